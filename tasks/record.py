"""The record step as a Prefect task: decide the run's status, close its row, publish a markdown artifact."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from newsetl.runs import RunSummary, per_source_markdown, run_markdown
from newsetl.warehouse.runs import finish_run, per_source_counts


def record_run(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> RunSummary:
    """Decide the run's status, close its `ingest_runs` row and publish the markdown artifact."""
    summary.decide_status()
    if summary.status != "failed":
        summary.extra.setdefault("Per source", per_source_markdown(per_source_counts(con, summary.run_id)))
    summary.finished_at = datetime.now(timezone.utc)
    finish_run(con, summary)
    create_markdown_artifact(key="ingest-run-summary", markdown=run_markdown(summary),
                             description=f"newsetl ingest run {summary.run_id}")
    return summary


record_task = task(record_run, name="record", cache_policy=NO_CACHE, timeout_seconds=120)
