"""Run an iterator in a thread ahead of its consumer, with a bounded number of items ready.

The ingest flow reads and hashes the next batch of post files (`ChangedFiles`) here while its own thread waits
for prepared batches and loads them: file reads and hashlib release the GIL. At most `ahead` items wait in the
queue, plus the one the thread is building, so memory stays bounded. The source iterator runs in the thread
only, so an iterator that counts (as `ChangedFiles` does) has its counts final once the consumer has seen the
end. An exception from the source is raised in the consumer, at the place the items end.
"""

from __future__ import annotations

import queue
import threading
from typing import Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()
PUT_POLL_SECONDS = 0.1  # how often a thread blocked on a full queue checks that the consumer still wants items


class Prefetch(Generic[T]):
    """Iterate `items` in a daemon thread, at most `ahead` items ahead; `close()` stops it early."""

    def __init__(self, items: Iterable[T], ahead: int = 1, name: str = "prefetch") -> None:
        if ahead < 1:
            raise ValueError("ahead must be at least 1")
        self._queue: queue.Queue = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._fill, args=(iter(items),), name=name, daemon=True)
        self._thread.start()

    def _put(self, entry: tuple) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=PUT_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _fill(self, source: Iterator[T]) -> None:
        try:
            for item in source:
                if not self._put((item, None)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put((_END, exc))
            return
        self._put((_END, None))

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item, error = self._queue.get()
        if item is _END:
            self._done = True
            self._thread.join()
            if error is not None:
                raise error
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the thread (after the item it is building) and drop what it read ahead."""
        self._done = True
        self._stop.set()
        self._thread.join()
        while not self._queue.empty():
            self._queue.get_nowait()
