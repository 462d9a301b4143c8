"""Functions the worker-pool tests run in worker processes (importable there, and free of Prefect)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pyarrow as pa


def arrow_rows(count: int) -> tuple[int, pa.Table]:
    """This worker's pid and a table big enough to travel through the spool file."""
    return os.getpid(), pa.table({"n": pa.array(range(count), pa.int64()),
                                  "text": pa.array([f"row {i}" for i in range(count)])})


def fail(message: str) -> None:
    raise ValueError(message)


def pid() -> int:
    return os.getpid()


def modules() -> list[str]:
    return sorted(sys.modules)


def die(code: int) -> None:
    os._exit(code)


def sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def flaky(marker: str, failures: int) -> int:
    """Fail `failures` times (counted in the file `marker`, as attempts run in fresh processes), then return."""
    path = Path(marker)
    attempts = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(attempts))
    if attempts <= failures:
        raise RuntimeError(f"attempt {attempts} fails")
    return os.getpid()


def dies_once(marker: str) -> int:
    """Kill this worker process on the first attempt; return the pid on the next."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os._exit(7)
    return os.getpid()


def main_files() -> list[str | None]:
    """The files behind this process's main modules (None when there is none)."""
    return [getattr(sys.modules.get(name), "__file__", None) for name in ("__main__", "__mp_main__")]
