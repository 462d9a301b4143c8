"""A command's start-up timeline: wall-clock stamps of its phases, for benchmarks (bench/startup_bench.py).

With `NEWSETL_TIMELINE` set to a file name, `mark(name)` records (name, time.time()) and the stamps are
appended to that file as one JSON line when the process exits (after every other exit handler, so the
private API's stop is in it). The private API server records its own stamps ("server: ...") and writes its
line when it has stopped (before the command's line). Without it, `mark` does nothing. Wall-clock seconds, so
a parent process can place them against its own start and the child's exit.
"""

from __future__ import annotations

import atexit
import json
import os
import time

_stamps: list[tuple[str, float]] = []
_path = os.environ.get("NEWSETL_TIMELINE")


def mark(name: str) -> None:
    """Record that the phase `name` ended now (only when NEWSETL_TIMELINE is set)."""
    if _path:
        _stamps.append((name, time.time()))


def flush() -> None:
    """Append the stamps recorded so far to the file now, as one JSON line (for a process that may end by a
    signal rather than by its exit handlers: the private API server)."""
    if _path and _stamps:
        with open(_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"pid": os.getpid(), "stamps": _stamps}) + "\n")
        _stamps.clear()


def _write() -> None:
    mark("exit handlers done")
    flush()


if _path:
    atexit.register(_write)  # registered first, so it runs last
