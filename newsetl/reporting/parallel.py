"""Run a pure function over chunks on the flow's worker pool, a few chunks ahead, results in order."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, TypeVar

from newsetl.runtime.worker_pool import discard

A = TypeVar("A")
R = TypeVar("R")
AHEAD = 3  # chunks submitted ahead of the one the caller is writing


def ordered_map(function: Callable[..., R], chunks: Iterable[A], pool: ProcessPoolExecutor | None,
                *args: object) -> Iterator[tuple[A, R]]:
    """(chunk, function(chunk, *args)) for each chunk, in order. `function` runs on `pool` when given (importable
    by reference), else here; a broken pool (a worker died) is discarded and the rest is computed here, with
    the same results. `chunks` is consumed lazily (AHEAD chunks ahead), so their data is read as needed."""
    pending: deque[tuple[A, Future | None]] = deque()
    for chunk in chunks:
        if pool is None:
            yield chunk, function(chunk, *args)
            continue
        try:
            pending.append((chunk, pool.submit(function, chunk, *args)))
        except (BrokenProcessPool, RuntimeError):  # broken or shut down since the flow started it
            discard(pool)
            pool = None
            pending.append((chunk, None))
        while len(pending) > AHEAD:
            yield _done(function, args, *pending.popleft())
    while pending:
        yield _done(function, args, *pending.popleft())


def _done(function: Callable[..., R], args: tuple, chunk: A, future: Future | None) -> tuple[A, R]:
    if future is not None:
        try:
            return chunk, future.result()
        except BrokenProcessPool:
            pass
    return chunk, function(chunk, *args)


def call(function: Callable[..., R], pool: ProcessPoolExecutor | None, *args: object) -> R:
    """function(*args) on `pool` when given (for instance to keep a slow import out of the flow process)."""
    if pool is not None:
        try:
            return pool.submit(function, *args).result()
        except (BrokenProcessPool, RuntimeError):
            discard(pool)
    return function(*args)
