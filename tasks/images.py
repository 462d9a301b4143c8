"""The images step as a Prefect task: `newsetl.images.pipeline.run_images` plus its markdown artifact."""

from __future__ import annotations

from datetime import datetime

import duckdb
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext

from newsetl.config import Config
from newsetl.images.pipeline import run_images
from newsetl.images.summary import ImageSummary


def publish_artifact(summary: ImageSummary, *, key: str = "newsetl-images") -> None:
    """The run's image counts and top failure reasons as a Prefect markdown artifact (inside a run only)."""
    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return
    create_markdown_artifact(markdown=summary.markdown(), key=key, description=summary.line())


def run_images_with_artifact(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    run_id: str | None = None,
    retry_failed: bool = False,
    since: datetime | None = None,
    local_roots: dict | None = None,
) -> ImageSummary:
    """`run_images`, then the `newsetl-images` artifact."""
    summary = run_images(con, config, run_id=run_id, retry_failed=retry_failed, since=since,
                         local_roots=local_roots)
    publish_artifact(summary)
    return summary


# HTTP retries with backoff are per request (newsetl/http/), not task retries.
images_task = task(run_images_with_artifact, name="images", cache_policy=NO_CACHE, timeout_seconds=3600)
