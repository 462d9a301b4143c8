"""The ingest flow's analytics step: refresh stories, keywords and the search index, note it in the run summary."""

from __future__ import annotations

import duckdb

from newsetl.config import ReportingConfig
from newsetl.flows.log import phase
from newsetl.reporting.analytics import AnalyticsAhead, AnalyticsSummary, start_analytics
from newsetl.runtime.progress import report
from newsetl.runs import RunSummary
from newsetl.tasks.analytics import analytics_task


def analytics_ahead(con: duckdb.DuckDBPyConnection, config: ReportingConfig) -> AnalyticsAhead | None:
    """Before the steps between the load and analytics: hand the idle workers the analytics' first chunks."""
    return start_analytics(con, config) if config.enabled else None


def analytics_step(con: duckdb.DuckDBPyConnection, config: ReportingConfig, summary: RunSummary,
                   ahead: AnalyticsAhead | None = None) -> None:
    """The flow's call after loading: run the analytics task (on from `ahead`, if `analytics_ahead` started
    it) and note what it did in the run summary."""
    if not config.enabled:
        return
    report("analytics: stories, keywords, search index", 0, 0)
    result: AnalyticsSummary = analytics_task(con, config, ahead=ahead)
    summary.extra["analytics"] = result.to_dict()
    summary.stage_seconds["analytics"] = result.seconds
    summary.extra.setdefault("summary_lines", []).append(
        f"analytics: {result.stories} stories ({result.duplicate_stories} with duplicates), "
        f"{result.segmented} articles segmented, {result.hashed} hashed, {result.seconds:.1f} s")
    phase("analytics: %d stories (%d with duplicates), %d articles segmented, %d hashed (%.1f s)", result.stories,
          result.duplicate_stories, result.segmented, result.hashed, result.seconds)
