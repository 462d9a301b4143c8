"""The ingest flow's analytics step: refresh stories, keywords and the search index, note it in the run summary."""

from __future__ import annotations

import duckdb

from newsetl.config import ReportingConfig
from newsetl.flows.log import phase
from newsetl.reporting.analytics import AnalyticsSummary, warm_workers
from newsetl.runtime.progress import report
from newsetl.runs import RunSummary
from newsetl.tasks.analytics import analytics_task


def warm_analytics(config: ReportingConfig) -> None:
    """Before the steps between the load and analytics: let the idle workers load what analytics needs."""
    if config.enabled:
        warm_workers()


def analytics_step(con: duckdb.DuckDBPyConnection, config: ReportingConfig, summary: RunSummary) -> None:
    """The flow's call after loading: run the analytics task and note what it did in the run summary."""
    if not config.enabled:
        return
    report("analytics: stories, keywords, search index", 0, 0)
    result: AnalyticsSummary = analytics_task(con, config)
    summary.extra["analytics"] = result.to_dict()
    summary.stage_seconds["analytics"] = result.seconds
    summary.extra.setdefault("summary_lines", []).append(
        f"analytics: {result.stories} stories ({result.duplicate_stories} with duplicates), "
        f"{result.segmented} articles segmented, {result.hashed} hashed, {result.seconds:.1f} s")
    phase("analytics: %d stories (%d with duplicates), %d articles segmented, %d hashed (%.1f s)", result.stories,
          result.duplicate_stories, result.segmented, result.hashed, result.seconds)
