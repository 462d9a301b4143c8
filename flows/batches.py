"""Batch task runs that fail as a whole: their posts are tried again in halves, down to single posts.

The step functions turn whatever one post raises into a reject, so a whole batch task fails only when
something outside them goes wrong: a worker process dies (a crash in a C library, the OOM killer), the task
times out after its retries, a runner loses its worker. Then nothing is lost and the run goes on: the batch is
split in two and each half submitted again (without retries); a half that fails again is split again, until
the one post that cannot be prepared is a `prepare` reject with the reason. Its reject records no file hash,
so the next run tries it again. k bad posts in a batch of n cost O(k log n) extra task runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from prefect import Task, get_run_logger
from prefect.futures import PrefectFuture

from newsetl.models import Batch, Reject
from newsetl.posts.limits import reason


@dataclass(slots=True)
class Submitted:
    """A batch task run in flight: its future, its inputs, and how to submit part of them again."""

    future: PrefectFuture
    inputs: Batch
    again: Callable[[Batch], "Submitted"]

    def outcome(self) -> tuple[Batch | None, list["Submitted"]]:
        """(the prepared batch, []) or, when the task run failed, (None, its halves submitted again) or
        (a batch of rejects, []) for a single post that failed alone."""
        try:
            return self.future.result(), []
        except Exception as exc:  # noqa: BLE001 - whatever killed the batch, its posts are not lost
            items = self.inputs.items
            get_run_logger().warning("a batch of %d posts failed as a whole (%s); trying again in halves"
                                     if len(items) > 1 else "post %s could not be prepared (%s)",
                                     len(items) if len(items) > 1 else _locator(items[0]), reason(exc))
            if len(items) > 1:
                half = len(items) // 2
                return None, [self.again(Batch(items[:half])), self.again(Batch(items[half:]))]
            return Batch([], [Reject(items[0].source, items[0].locator, "prepare",
                                     f"its task failed alone: {reason(exc)}")]), []


def _locator(item: object) -> str:
    return getattr(item, "locator", "?")


def submitter(task: Task, *args: object) -> Callable[[Batch], Submitted]:
    """A function that submits `task(inputs, *args)` and keeps the inputs; parts of a failed batch are
    submitted again with no retries (the whole batch already had them)."""
    once = task.with_options(retries=0)

    def submit(inputs: Batch, retry: bool = True) -> Submitted:
        return Submitted((task if retry else once).submit(inputs, *args), inputs,
                         lambda part: submit(part, retry=False))

    return submit
