"""Run a pure function over chunks on the flow's worker pool, results in order; this process helps when the
workers keep it waiting too long (they run at a lower priority, so on a busy machine they can fall far behind)."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator

from newsetl.runtime.worker_pool import discard

AHEAD = 3  # chunks on the workers at a time
# How long this process waits for the oldest chunk before it takes the next one itself. Helping at once cost the
# analytics step more than it saved: this process writes every chunk to the warehouse (the step's critical path),
# and its first chunk imports what the workers had already imported (20k posts: 6.2 -> 4.6 s of CPU here).
PATIENCE = 2.0
# Fewer articles than this are done in the flow process: a worker's first segmentation loads jieba's dictionary and
# its first signature imports datasketch (about a second each), more than a small refresh takes in all.
POOL_MIN_ARTICLES = 2000
_END = object()


def pool_for(pool: ProcessPoolExecutor | None, articles: int) -> ProcessPoolExecutor | None:
    """`pool` if `articles` are enough to be worth its start-up cost, else None (do them here)."""
    return pool if articles >= POOL_MIN_ARTICLES else None


class _Item:
    __slots__ = ("chunk", "future", "result")

    def __init__(self, chunk: Any, future: Future | None = None, result: Any = _END) -> None:
        self.chunk, self.future, self.result = chunk, future, result


class OrderedMap:
    """(chunk, function(chunk, *args)) for each chunk, in order, when iterated.

    `function` (importable by reference) runs on `pool` when given, else here. When the oldest chunk is still on
    a worker after `patience` seconds, this process computes the next chunk itself. A broken pool (a worker died)
    is discarded and the rest is computed here; the results are the same either way. `chunks` is consumed
    lazily, so their data is read as needed. `hand_out()` gives the workers their first chunks before the
    iteration starts, so they work while this process does something else.
    """

    def __init__(self, function: Callable[..., Any], chunks: Iterable[Any], pool: ProcessPoolExecutor | None,
                 *args: object, patience: float = PATIENCE) -> None:
        self.function, self.args, self.patience = function, args, patience
        self.source = iter(chunks)
        self.pool = pool
        self.pending: deque[_Item] = deque()
        self.exhausted = False

    def hand_out(self) -> None:
        """Give the workers chunks until `AHEAD` are on them (or none is left)."""
        while (self.pool is not None and not self.exhausted
               and sum(i.future is not None for i in self.pending) < AHEAD):
            chunk = next(self.source, _END)
            if chunk is _END:
                self.exhausted = True
                return
            try:
                self.pending.append(_Item(chunk, self.pool.submit(self.function, chunk, *self.args)))
            except (BrokenProcessPool, RuntimeError):  # broken or shut down since the flow started it
                discard(self.pool)
                self.pool = None
                self.pending.append(_Item(chunk))

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        function, args, pending = self.function, self.args, self.pending
        while True:
            self.hand_out()
            if not pending:
                chunk = _END if self.exhausted else next(self.source, _END)
                if chunk is _END:
                    return
                pending.append(_Item(chunk))
            head = pending[0]
            helped = sum(i.future is None for i in pending)
            if (head.future is not None and not self.exhausted and helped < AHEAD
                    and not wait([head.future], timeout=self.patience).done):
                chunk = next(self.source, _END)  # the workers are slow: take the next chunk here
                if chunk is _END:
                    self.exhausted = True
                else:
                    pending.append(_Item(chunk, None, function(chunk, *args)))
                continue
            item = pending.popleft()
            yield item.chunk, _result(item, function, args, self.pool)


def ordered_map(function: Callable[..., Any], chunks: Iterable[Any], pool: ProcessPoolExecutor | None,
                *args: object, patience: float = PATIENCE) -> Iterator[tuple[Any, Any]]:
    """(chunk, function(chunk, *args)) for each chunk, in order (see `OrderedMap`)."""
    return iter(OrderedMap(function, chunks, pool, *args, patience=patience))


def _result(item: _Item, function: Callable[..., Any], args: tuple, pool: ProcessPoolExecutor | None) -> Any:
    if item.result is not _END:
        return item.result
    if item.future is not None:
        try:
            return item.future.result()
        except BrokenProcessPool:  # a worker died: the next call starts a fresh pool
            if pool is not None:
                discard(pool)
    return function(item.chunk, *args)


def submit(pool: ProcessPoolExecutor | None, function: Callable[..., Any], *args: object) -> Future | None:
    """function(*args) started on `pool` now, for `call(..., early=)` later; None without a (working) pool."""
    if pool is None:
        return None
    try:
        return pool.submit(function, *args)
    except (BrokenProcessPool, RuntimeError):
        discard(pool)
        return None


def call(function: Callable[..., Any], pool: ProcessPoolExecutor | None, *args: object,
         early: Future | None = None) -> Any:
    """function(*args) on `pool` when given (for instance to keep a slow import out of the flow process), or the
    result of `early`, the same call `submit`ted before."""
    if early is not None:
        try:
            return early.result()
        except BrokenProcessPool:
            pass
    if pool is not None:
        try:
            return pool.submit(function, *args).result()
        except (BrokenProcessPool, RuntimeError):
            discard(pool)
    return function(*args)
