"""The first thing the `newsetl` program does: start the private Prefect API for a command that runs flows.

The private API (newsetl/runtime/prefect_server.py) is the critical path of a short run: the command's
flow cannot start before it answers, and it needs ~2 s of imports. So the program starts it before it
imports anything else of its own (the command line's modules, newsetl.config and pydantic: ~0.2 s), from
`newsetl/cli/__init__.py`. This module imports only the standard library and the two exit-handler modules,
which must register their handlers before the API's stop handler (they run after it).

Only for the program (`newsetl ...`, `python -m newsetl.cli ...`), never on import from Python (tests,
notebooks): there `main(argv)` starts the API when a command needs it, as before.
"""

from __future__ import annotations

import os
import sys

import newsetl.runtime.quick_exit  # noqa: F401  (first: its exit handler must run last)
import newsetl.runtime.timeline  # noqa: F401  (before the API's stop handler: its stamps include the stop)

# Commands that run flows, and the module each imports: it is imported while the Prefect API starts.
FLOW_MODULES = {"ingest": "newsetl.flows.ingest", "backfill": "newsetl.flows.backfill",
                "reprocess": "newsetl.flows.backfill", "images": "newsetl.flows.images"}


def program_args() -> list[str] | None:
    """The command-line arguments when this process is the `newsetl` program, else None."""
    if sys.argv and sys.argv[0] == "-m":  # `python -m newsetl.cli`, while Python imports the package
        orig = getattr(sys, "orig_argv", [])
        return sys.argv[1:] if "-m" in orig and orig[orig.index("-m") + 1:][:1] == ["newsetl.cli"] else None
    if sys.argv and os.path.basename(sys.argv[0]) in ("newsetl", "newsetl.exe"):  # the console script
        return sys.argv[1:]
    return None


def start_early() -> bool:
    """Start the private API now if this is the program running a command that runs flows (not its --help).

    Returns whether it started one. Usage and configuration errors are found later; the API then stops at exit.
    """
    args = program_args()
    if not args or args[0] not in FLOW_MODULES or "-h" in args or "--help" in args:
        return False
    from newsetl.runtime.prefect_server import start_private_api

    return start_private_api() is not None
