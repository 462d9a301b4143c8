"""Task retries in the real ingest flow: a failed batch is retried, the batches that succeeded are not redone."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName

import newsetl.posts.pipeline
from schedule_helpers import copy_posts, make, rows

from newsetl.flows.ingest import ingest
from newsetl.posts.parse import parse_posts

FLAKY = "金融/新浪财经/新浪财经－国內/100万吨国家钾肥储备投放保春耕.md"  # its batch fails twice


async def _parse_runs(flow_run_id: str) -> list[tuple[int, str]]:
    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="read-parse-clean")))
    return sorted((run.run_count, run.state.type.value) for run in runs)


def test_batch_failing_twice_then_succeeding_is_retried_alone(tmp_path: Path, monkeypatch) -> None:
    config = make(tmp_path, copy_posts(tmp_path))  # batch_size 5: 15 posts in 3 batches
    calls: Counter = Counter()

    def flaky_parse(batch, zones, *limits):
        first = min(raw.ref.locator for raw in batch.items)
        calls[first] += 1
        if any(raw.ref.locator == FLAKY for raw in batch.items) and calls[first] <= 2:
            raise ConnectionError(f"transient failure #{calls[first]}")
        return parse_posts(batch, zones, *limits)

    monkeypatch.setattr(newsetl.posts.pipeline, "parse_posts", flaky_parse)  # the step inside the batch task
    summary = ingest(config)

    assert sorted(calls.values()) == [1, 1, 3]  # only the failing batch ran again, twice
    assert (summary["status"], summary["new"], summary["rejected"]) == ("completed", 15, 0)
    assert rows(config.resolve(config.warehouse), "SELECT count(*) FROM articles")[0][0] == 15
    assert asyncio.run(_parse_runs(summary["flow_run_id"])) == [(1, "COMPLETED"), (1, "COMPLETED"),
                                                                (3, "COMPLETED")]
