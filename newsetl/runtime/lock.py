"""One writer per warehouse: an OS file lock next to the DuckDB file, shared by every newsetl run.

DuckDB lets one process write a file; a second writer fails at once. Runs take this lock first, so a
second run waits (up to a timeout) or is skipped instead of failing half-way. The lock is released by the
OS when the holder exits, even after a crash, so a stale lock cannot block later runs.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from newsetl.errors import WarehouseBusy

POLL_SECONDS = 0.2


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f" (held by {text})" if text else ""


@contextmanager
def warehouse_lock(warehouse: Path, wait_seconds: float = 0.0, holder: str = "") -> Iterator[None]:
    """Hold the warehouse's write lock; wait up to `wait_seconds`, then raise WarehouseBusy."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(f"warehouse {warehouse} is busy: another newsetl run is writing it"
                                        f"{_holder(path)}; waited {wait_seconds:g} s") from None
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}{', ' + holder if holder else ''}".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
