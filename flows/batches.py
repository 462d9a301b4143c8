"""Batch task runs that fail as a whole: their posts are tried again in halves, down to single posts.

The step functions turn whatever one post raises into a reject, so a whole batch task fails only when
something outside them goes wrong: a worker process dies (a crash in a C library, the OOM killer), the task
times out after its retries, a runner loses its worker. Then nothing is lost and the run goes on: once the
other batches in flight have finished, the failed batch is split in two and each half run again (no retries),
one task run at a time; a half that fails again is split again, down to the one post that cannot be
prepared, which becomes a `prepare` reject with the reason and no file hash (so the next run tries it again).
One task run at a time, because a dying worker process takes its whole pool down: a post that shared the
pool with it at that moment would be lost for nothing. k bad posts in a batch of n cost O(k log n) task runs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

from prefect import Task, get_run_logger
from prefect.futures import PrefectFuture

from newsetl.models import Batch, Reject
from newsetl.posts.limits import reason


@dataclass(slots=True)
class Submitted:
    """A batch task run in flight: its future, its inputs, and how to run part of them again (`again`)."""

    future: PrefectFuture
    inputs: Batch
    again: Callable[[Batch], PrefectFuture]

    def outcome(self) -> tuple[Batch | None, Exception | None]:
        """(the prepared batch, None), or (None, the exception) when the task run failed as a whole."""
        try:
            return self.future.result(), None
        except Exception as exc:  # noqa: BLE001 - whatever killed the batch, its posts are not lost
            return None, exc

    def isolate(self, failure: Exception) -> list[Batch]:
        """Prepare the inputs again in halves, one task run at a time, down to the posts that fail alone:
        the prepared parts, then one batch with a `prepare` reject for each post that failed alone."""
        logger = get_run_logger()
        logger.warning("a batch of %d posts failed as a whole (%s); trying it again in halves",
                       len(self.inputs.items), reason(failure))
        parts: list[Batch] = []
        rejects: list[Reject] = []
        todo: deque[tuple[list, Exception]] = deque([(self.inputs.items, failure)])
        while todo:
            items, error = todo.popleft()
            if len(items) == 1:
                logger.warning("post %s could not be prepared: %s", items[0].locator, reason(error))
                rejects.append(Reject(items[0].source, items[0].locator, "prepare",
                                      f"its task failed alone: {reason(error)}"))
                continue
            for half in (items[:len(items) // 2], items[len(items) // 2:]):
                try:
                    parts.append(self.again(Batch(half)).result())
                except Exception as exc:  # noqa: BLE001
                    todo.append((half, exc))
        return parts + ([Batch([], rejects)] if rejects else [])


def submitter(task: Task, *args: object) -> Callable[[Batch], Submitted]:
    """A function that submits `task(inputs, *args)` and keeps the inputs; parts of a failed batch are
    submitted again with no retries (the whole batch already had them)."""
    once = task.with_options(retries=0)

    def submit(inputs: Batch) -> Submitted:
        return Submitted(task.submit(inputs, *args), inputs, lambda part: once.submit(part, *args))

    return submit


def let_go(batch: Batch) -> None:
    """Drop a loaded batch's rows and keys, so their memory is freed now rather than at the next full collection.

    A finished Prefect future keeps its result: `PrefectConcurrentFuture` registers one of its own methods as a
    done-callback of the `concurrent.futures.Future` it wraps, which keeps its callbacks, so the two form a
    reference cycle that holds the batch (~15 MB of Arrow rows per 1,000 posts) until Python's cyclic garbage
    collector runs. Full collections run less often as the process holds more objects: 20 to 30 loaded batches
    were waiting for one at 20k and 100k posts (+150 to +340 MB peak RSS). The batch object is the future's
    result itself, so emptying it frees its rows whatever holds the future.
    """
    batch.tables = None
    batch.items = []
    batch.rejects = []


def wait_all(pending: list) -> None:
    """Wait until every future (or Submitted) in `pending` has finished, whatever its outcome (Batches are done)."""
    for item in pending:
        if not isinstance(item, Batch):
            (item.future if isinstance(item, Submitted) else item).wait()
