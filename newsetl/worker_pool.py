"""A warm pool of worker processes for CPU-bound task bodies (read, parse and clean), kept across flow runs.

The pool's processes are forked from a forkserver that has already imported the step modules, so a new
worker costs a fork, not a fresh interpreter importing Prefect, lxml and pyarrow (about 1.4 s each on this
machine). The pool lives as long as the process that started it: flows called repeatedly in one process
(a test session, a notebook, the benchmark) pay the start-up once. `newsetl serve` runs each scheduled run
in a fresh process (Prefect's runner), so there each run starts its pool, which takes ~0.3 s.

Results come back by pickle protocol 5: the small pickle travels through the pool's pipe, while large
out-of-band buffers (the Arrow tables of a cleaned batch, ~14 MB per 1,000 posts) are written to a spool
file in shared memory and memory-mapped by the flow process. The flow process then copies nothing: through
the pipe its GIL-bound result thread read and unpickled every byte while the worker waited to hand over.

A worker that dies, or a call that runs past its timeout, breaks the pool: it is discarded (its processes
killed) and the next call starts a fresh one, so a retried task run gets healthy workers.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import pickle
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

import cloudpickle

PRELOAD = ["newsetl.worker_pool", "tasks.worker"]  # imported once by the forkserver, inherited by each fork
SPOOL = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
ALIGN = 64  # Arrow's buffer alignment
WORKER_NICENESS = 10

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_workers = 0


class WorkerTimeout(TimeoutError):
    """A call ran past its timeout; the pool's processes were killed so it cannot run on unseen."""


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # takes effect when the forkserver starts (once per process)
        return context
    return multiprocessing.get_context("spawn")


def _lower_priority() -> None:
    """Worker initializer: workers yield the CPU to the flow process, whose loader is the critical path.

    Measured on 20k posts with 2 workers on 2 cores: the load step took 5.0-5.1 s at equal priority and
    3.1-3.9 s at niceness 10, for the same total run time.
    """
    os.nice(WORKER_NICENESS)


def _ready() -> None:
    """A no-op whose only job is to make the pool start a worker process now."""


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """The shared pool of `workers` processes, started on first use (and again after a break)."""
    global _pool, _workers
    with _lock:
        if _pool is None or _workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool, _workers = ProcessPoolExecutor(workers, mp_context=_context(),
                                                   initializer=_lower_priority), workers
            for _ in range(workers):  # start every process now, while the flow is still discovering input
                _pool.submit(_ready)
        return _pool


def discard(pool: ProcessPoolExecutor, kill: bool = False) -> None:
    """Forget `pool` (if it is still the shared one) so the next call starts afresh; `kill` its processes."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    if kill:
        for process in list(getattr(pool, "_processes", {}).values()):  # no public API before Python 3.14
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the shared pool's processes (tests, and interpreter exit via concurrent.futures)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def run_pickled(function: bytes, args: tuple, kwargs: dict) -> Any:
    """Call the cloudpickled `function` (in a worker: here, or on a Dask cluster)."""
    return cloudpickle.loads(function)(*args, **kwargs)


def _call(function: bytes, args: tuple, kwargs: dict) -> tuple[bytes, str | None, list[int]]:
    """Run in a worker: call the function; return its pickle, the spool file of its buffers, their sizes."""
    result = run_pickled(function, args, kwargs)
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
    if not buffers:
        return data, None, []
    sizes = [buffer.raw().nbytes for buffer in buffers]
    fd, path = tempfile.mkstemp(prefix="newsetl-result-", dir=SPOOL)
    with os.fdopen(fd, "wb") as spool:
        for buffer, size in zip(buffers, sizes):
            spool.write(buffer.raw())
            spool.write(bytes(-size % ALIGN))
    return data, path, sizes


def _result(data: bytes, path: str | None, sizes: list[int]) -> Any:
    """In the flow process: unpickle a worker's result, its buffers mapped from the spool file."""
    if path is None:
        return pickle.loads(data)
    try:
        with open(path, "rb") as spool:
            mapped = mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) if any(sizes) else b""
    finally:
        os.unlink(path)  # the mapping outlives the name; the memory is freed with the last table using it
    view, offset, buffers = memoryview(mapped), 0, []
    for size in sizes:
        buffers.append(view[offset:offset + size])
        offset += size + (-size % ALIGN)
    return pickle.loads(data, buffers=buffers)


def run_in_worker(workers: int, function: bytes, args: tuple, kwargs: dict,
                  timeout: float | None = None) -> Any:
    """Run the cloudpickled `function` on one of the shared pool's processes and return its result.

    Exceptions raised by the function come back as they are. A dead worker raises BrokenProcessPool and a
    call past `timeout` raises WorkerTimeout; both discard the pool first, so a retry starts clean.
    """
    pool = worker_pool(workers)
    try:
        future = pool.submit(_call, function, args, kwargs)
    except (BrokenProcessPool, RuntimeError):  # broken or discarded by another call since we got it
        discard(pool)
        pool = worker_pool(workers)
        future = pool.submit(_call, function, args, kwargs)
    if not wait([future], timeout=timeout).done:
        discard(pool, kill=True)
        raise WorkerTimeout(f"did not finish within {timeout:g} s; its worker processes were stopped")
    try:
        return _result(*future.result())
    except BrokenProcessPool:
        discard(pool)
        raise


def pickled(function: Callable) -> bytes:
    """`function` serialized for `run_in_worker` (by reference when importable, by value otherwise)."""
    return cloudpickle.dumps(function)
