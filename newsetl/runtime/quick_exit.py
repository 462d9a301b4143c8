"""End the `newsetl` program as soon as its exit handlers have run, without tearing the interpreter down.

After a run, Python's own shut-down (clearing every module and freeing Prefect's, pydantic's and DuckDB's
objects one by one) took 0.5-1.2 s of a 20k-post no-op rerun's wall time. Nothing newsetl needs happens
there: the warehouse is closed by then, Prefect's log and event workers were drained by their exit
handlers, the private Prefect API was stopped. So when the command line ran as a program (`newsetl ...`,
`python -m newsetl.cli ...`) and returned an exit code, the last exit handler flushes the logs and the
standard streams and calls `os._exit` with that code. Import this module before anything else registers
an exit handler (it runs last, as handlers run in reverse order); library and test use (`main(argv)`)
never sets a code, so nothing changes there.
"""

from __future__ import annotations

import atexit
import os
import sys

_code: int | None = None


def exit_with(code: int) -> None:
    """Skip the interpreter's tear-down at exit and end with `code` (the program's exit code)."""
    global _code
    _code = code


def _quick_exit() -> None:
    if _code is None:
        return
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.shutdown()  # flush and close every handler, as Python's own exit handler would
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(_code)


atexit.register(_quick_exit)
