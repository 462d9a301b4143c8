"""One writer per warehouse: an OS file lock next to the DuckDB file, shared by every newsetl run.

DuckDB lets one process write a file; a second writer fails at once. Runs take this lock first, so a
second run waits (up to a timeout) or is skipped instead of failing half-way. The lock is the `filelock`
library's FileLock (flock on Unix): the OS releases it when the holder exits, even after a crash, so a
stale lock cannot block later runs. Who holds it (pid, flow run) is written to `<lock>.holder` for the
busy message.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from newsetl.errors import WarehouseBusy

POLL_SECONDS = 0.2


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _holder_path(path: Path) -> Path:
    return path.with_name(path.name + ".holder")


def _holder(path: Path) -> str:
    try:
        text = _holder_path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f" (held by {text})" if text else ""


@contextmanager
def warehouse_lock(warehouse: Path, wait_seconds: float = 0.0, holder: str = "") -> Iterator[None]:
    """Hold the warehouse's write lock; wait up to `wait_seconds`, then raise WarehouseBusy."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, thread_local=False, is_singleton=False)
    try:
        lock.acquire(timeout=wait_seconds, poll_interval=POLL_SECONDS)
    except Timeout:
        raise WarehouseBusy(f"warehouse {warehouse} is busy: another newsetl run is writing it"
                            f"{_holder(path)}; waited {wait_seconds:g} s") from None
    note = _holder_path(path)
    try:
        note.write_text(f"pid {os.getpid()}{', ' + holder if holder else ''}", encoding="utf-8")
        yield
    finally:
        note.unlink(missing_ok=True)
        lock.release()
