"""A warm pool of worker processes for CPU-bound task bodies (read, parse and clean), kept across flow runs.

The pool's processes are forked from a forkserver that has already imported the step modules, so a new
worker costs a fork, not a fresh interpreter importing Prefect, lxml and pyarrow (about 1.4 s each on this
machine). The pool lives as long as the process that started it: flows called repeatedly in one process
(a test session, a notebook, the benchmark) pay the start-up once. `newsetl serve` runs each scheduled run
in a fresh process (Prefect's runner), so there each run starts its pool, which takes ~0.3 s.

Results come back through the pool's pipe as ordinary pickles. (A spool file in /dev/shm, memory-mapped
by the flow process, was tried: it saved the flow process 0.3 s of CPU per 20k posts and no wall time,
and a killed run could leave files behind in shared memory, so it was taken out again.)

A worker that dies, or a call that runs past its timeout, breaks the pool: it is discarded (its processes
killed) and the next call starts a fresh one, so a retried task run gets healthy workers.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator

import cloudpickle

PRELOAD = ["newsetl.runtime.worker_pool", "newsetl.posts.pipeline"]  # imported once by the forkserver, inherited by each fork
WORKER_NICENESS = 10
OWNER_POLL_SECONDS = 0.5  # how often a worker checks that the flow process still exists

_lock = threading.Lock()
_pool: _Pool | None = None
_workers = 0


class WorkerTimeout(TimeoutError):
    """A call ran past its timeout (the process pool stops its workers; on Dask it finishes unseen)."""


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)  # takes effect when the forkserver starts (once per process)
        return context
    return multiprocessing.get_context("spawn")


def _worker_init(owner: int) -> None:
    """Worker initializer: lower the priority, and end this worker when the flow process `owner` is gone.

    Workers yield the CPU to the flow process, whose loader is the critical path. Measured on 20k posts with
    2 workers on 2 cores: the load step took 5.0-5.1 s at equal priority and 3.1-3.9 s at niceness 10, for
    the same total run time. A worker's parent is the forkserver and it holds both ends of its call queue,
    so after a `kill -9` of the flow process nothing would ever wake it: a watchdog thread ends it instead.
    """
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_without, args=(owner,), name="owner-watchdog", daemon=True).start()


def _exit_without(owner: int) -> None:
    while True:
        time.sleep(OWNER_POLL_SECONDS)
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # the pid now belongs to another user's process: ours is gone
            os._exit(1)


@contextmanager
def _main_script_hidden() -> Iterator[None]:
    """While the pool starts its processes, hide the path of the `__main__` script.

    spawn and forkserver children re-run the parent's main script (as `__mp_main__`) before doing anything
    else. For the `newsetl` console script that means importing the whole CLI, Prefect included (~1 s and
    ~100 MB per worker), which the workers never use. Their functions are importable by reference instead.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None:  # `python -m x`: x.__main__ is not re-run
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _ready() -> None:
    """A no-op whose only job is to make the pool start a worker process now."""


class _Pool(ProcessPoolExecutor):
    """A process pool whose processes start hidden from the `__main__` script, whoever's call starts them;
    `started` tells whether they have (ProcessPoolExecutor has no public way to ask before Python 3.14)."""

    started = False

    def _adjust_process_count(self) -> None:  # where ProcessPoolExecutor starts processes (3.11-3.13)
        self.started = True
        with _main_script_hidden():
            super()._adjust_process_count()


def worker_pool(workers: int, start: bool = True) -> ProcessPoolExecutor:
    """The shared pool of `workers` processes; its processes start now (`start`), else on its first call.

    A pool made with `start=False` costs nothing until something is submitted to it (or `warm()` runs): a
    no-op rerun never starts a process (the forkserver's start, ~0.35 s, blocked the flow's first step).
    """
    global _pool, _workers
    with _lock:
        if _pool is None or _workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool, _workers = _Pool(workers, mp_context=_context(), initializer=_worker_init,
                                    initargs=(os.getpid(),)), workers
            if start:
                _start(_pool, workers)
        return _pool


def _start(pool: ProcessPoolExecutor, workers: int) -> None:
    for _ in range(workers):  # each submit starts one process (they block until the forkserver forked it)
        pool.submit(_ready)


def warm() -> None:
    """Start the shared pool's processes in the background, if there is a pool whose processes have not
    started (the process runner's): the ingest calls it when it finds the first file to prepare, so the
    workers start while that batch is being read."""
    with _lock:
        pool, workers = _pool, _workers
    if pool is None or pool.started:
        return

    def start() -> None:
        try:
            _start(pool, workers)
        except Exception:  # broken or shut down meanwhile: the first real call starts a fresh pool
            pass

    threading.Thread(target=start, name="worker-pool-start", daemon=True).start()


def current_pool() -> ProcessPoolExecutor | None:
    """The shared pool if there is one (the process runner makes it; its processes may not have started:
    they start on its first call), else None; starts nothing."""
    with _lock:
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


def run_in_worker(workers: int, function: bytes, args: tuple, kwargs: dict,
                  timeout: float | None = None) -> Any:
    """Run the cloudpickled `function` on one of the shared pool's processes and return its result.

    Exceptions raised by the function come back as they are. A dead worker raises BrokenProcessPool and a
    call past `timeout` raises WorkerTimeout; both discard the pool first, so a retry starts clean.
    """
    pool = worker_pool(workers)
    try:
        future = pool.submit(run_pickled, function, args, kwargs)
    except (BrokenProcessPool, RuntimeError):  # broken or discarded by another call since we got it
        discard(pool)
        pool = worker_pool(workers)
        future = pool.submit(run_pickled, function, args, kwargs)
    if not wait([future], timeout=timeout).done:
        discard(pool, kill=True)
        raise WorkerTimeout(f"did not finish within {timeout:g} s; its worker processes were stopped")
    try:
        return future.result()
    except BrokenProcessPool:
        discard(pool)
        raise


def pickled(function: Callable) -> bytes:
    """`function` serialized for `run_in_worker` (by reference when importable, by value otherwise)."""
    return cloudpickle.dumps(function)
