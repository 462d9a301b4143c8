"""Task runners from config: threads, processes and a Dask LocalCluster load the same warehouse content."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.task_runners import ThreadPoolTaskRunner

from schedule_helpers import copy_posts, make, rows

from newsetl.flows.ingest import ingest
from newsetl.flows.runners import DaskTaskRunner, ProcessTaskRunner, task_runner_for, with_runner
from newsetl.config import RunnerConfig

CONTENT = ("SELECT article_id, source, locator, title, author, published_at, categories, body_text, body_html, "
           "content_hash, rules_version FROM articles ORDER BY article_id")
CHILDREN = "SELECT article_id, position, kind, text FROM paragraphs ORDER BY ALL"


def test_runner_kinds_from_config() -> None:
    assert type(task_runner_for(RunnerConfig())) is ProcessTaskRunner  # the default (issue 15)
    assert type(task_runner_for(RunnerConfig(kind="threads"))) is ThreadPoolTaskRunner
    process = task_runner_for(RunnerConfig(kind="processes", workers=3))
    assert isinstance(process, ProcessTaskRunner) and process.workers == 3
    remote = task_runner_for(RunnerConfig(kind="dask", dask_address="tcp://127.0.0.1:8786"))
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://127.0.0.1:8786"


def _ingest(tmp_path: Path, kind: str, **runner) -> tuple[dict, Path]:
    posts = copy_posts(tmp_path / kind)
    config = make(tmp_path / kind, posts, runner={"kind": kind, "workers": 2, **runner})
    summary = with_runner(ingest, config)(config)
    return summary, config.resolve(config.warehouse)


@pytest.mark.parametrize("kind", ["dask", "processes"])
def test_runner_loads_same_content_as_threads(tmp_path: Path, kind: str) -> None:
    base, base_wh = _ingest(tmp_path, "threads")
    other, other_wh = _ingest(tmp_path, kind)

    assert (other["status"], other["new"], other["rejected"]) == (base["status"], base["new"], base["rejected"])
    assert other["new"] == 15
    assert rows(other_wh, CONTENT) == rows(base_wh, CONTENT)
    assert len(rows(other_wh, CONTENT)) == 15
    assert rows(other_wh, CHILDREN) == rows(base_wh, CHILDREN)


def test_dask_runner_uses_an_existing_cluster_by_address(tmp_path: Path) -> None:
    """A cluster started elsewhere (here: this test) does the parse/clean work; the flow only loads."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        base, base_wh = _ingest(tmp_path, "threads")
        other, other_wh = _ingest(tmp_path, "dask", dask_address=cluster.scheduler_address)
        with Client(cluster) as client:
            worked = client.run_on_scheduler(
                lambda dask_scheduler: sum(1 for t in dask_scheduler.transition_log if t[2] == "memory"))

    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    assert (other["status"], other["new"]) == ("completed", 15)
    assert rows(other_wh, CONTENT) == rows(base_wh, CONTENT)
    assert worked >= 3  # the 3 batches (batch_size 5) ran on that cluster
