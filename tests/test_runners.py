"""Task runners from config: threads, processes and a Dask LocalCluster load the same warehouse content."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from schedule_helpers import copy_posts, make, rows

from flows.ingest import ingest
from flows.runners import ProcessTaskRunner, task_runner_for, with_runner
from newsetl.config import RunnerConfig

CONTENT = ("SELECT article_id, source, locator, title, author, published_at, categories, body_text, body_html, "
           "content_hash, rules_version FROM articles ORDER BY article_id")
CHILDREN = "SELECT article_id, position, kind, text FROM paragraphs ORDER BY ALL"


def test_runner_kinds_from_config() -> None:
    assert isinstance(task_runner_for(RunnerConfig()), ThreadPoolTaskRunner)
    process = task_runner_for(RunnerConfig(kind="processes", workers=3))
    assert isinstance(process, ProcessTaskRunner) and process.workers == 3
    remote = task_runner_for(RunnerConfig(kind="dask", dask_address="tcp://127.0.0.1:8786"))
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://127.0.0.1:8786"


def _ingest(tmp_path: Path, kind: str) -> tuple[dict, Path]:
    posts = copy_posts(tmp_path / kind)
    config = make(tmp_path / kind, posts, runner={"kind": kind, "workers": 2})
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
