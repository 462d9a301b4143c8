"""Record step: the run's row in `ingest_runs` and a markdown artifact for the Prefect UI."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Iterator

import duckdb
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import get_run_context


@dataclass(slots=True)
class RunSummary:
    """What one ingest run did; printed by the CLI and stored in `ingest_runs`."""

    run_id: str
    flow_run_id: str | None
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    discovered: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    sources: list[str] = field(default_factory=list)
    message: str | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    reject_reasons: dict[str, int] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)  # e.g. image stats, per-source counts

    @classmethod
    def begin(cls, sources: list[str] | None = None) -> "RunSummary":
        """A summary for a run starting now, tied to the current Prefect flow run (if any)."""
        return cls(run_id=uuid.uuid4().hex[:12], flow_run_id=_current_flow_run_id(),
                   started_at=datetime.now(timezone.utc), sources=list(sources or []))

    def to_dict(self) -> dict:
        return asdict(self)


def _current_flow_run_id() -> str | None:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # called outside a flow run
        return None


def start_run(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    con.execute(
        "INSERT INTO ingest_runs (run_id, flow_run_id, started_at, status, sources) VALUES (?, ?, ?, ?, ?)",
        [summary.run_id, summary.flow_run_id, summary.started_at, summary.status, summary.sources],
    )


def finish_run(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    summary.finished_at = datetime.now(timezone.utc)
    con.execute(
        "UPDATE ingest_runs SET finished_at = ?, status = ?, discovered = ?, new = ?, updated = ?, "
        "unchanged = ?, rejected = ?, message = ? WHERE run_id = ?",
        [summary.finished_at, summary.status, summary.discovered, summary.new, summary.updated,
         summary.unchanged, summary.rejected, summary.message, summary.run_id],
    )


def run_markdown(summary: RunSummary) -> str:
    """The run summary as markdown for the Prefect UI."""
    seconds = (summary.finished_at - summary.started_at).total_seconds() if summary.finished_at else 0.0
    lines = [
        f"# newsetl ingest run `{summary.run_id}`: {summary.status}",
        "",
        "| discovered | new | updated | unchanged | rejected | seconds |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {summary.discovered} | {summary.new} | {summary.updated} | {summary.unchanged} | "
        f"{summary.rejected} | {seconds:.1f} |",
    ]
    if summary.stage_seconds:
        lines += ["", "## Time per stage", "", "| stage | seconds |", "|---|---:|"]
        lines += [f"| {stage} | {value:.2f} |" for stage, value in summary.stage_seconds.items()]
    if summary.reject_reasons:
        lines += ["", "## Rejects", "", "| reason | count |", "|---|---:|"]
        lines += [f"| {reason} | {count} |" for reason, count in summary.reject_reasons.items()]
    for key, value in summary.extra.items():
        lines += ["", f"## {key}", "", f"{value}"]
    return "\n".join(lines)


def per_source_markdown(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """Articles written and inputs rejected by this run, per source, as a markdown table."""
    counts = con.execute(
        "SELECT source, sum(written)::INT, sum(rejected)::INT FROM ("
        " SELECT source, 1 AS written, 0 AS rejected FROM articles WHERE run_id = ?"
        " UNION ALL SELECT source, 0, 1 FROM rejects WHERE run_id = ?) GROUP BY source ORDER BY source",
        [run_id, run_id]).fetchall()
    lines = ["| source | new or updated | rejected |", "|---|---:|---:|"]
    return "\n".join(lines + [f"| {source} | {written} | {rejected} |" for source, written, rejected in counts])


def record_run(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> RunSummary:
    """Close the run's `ingest_runs` row and publish the markdown artifact."""
    if summary.status != "failed":
        summary.extra.setdefault("Per source", per_source_markdown(con, summary.run_id))
    finish_run(con, summary)
    create_markdown_artifact(key="ingest-run-summary", markdown=run_markdown(summary),
                             description=f"newsetl ingest run {summary.run_id}")
    return summary


record_task = task(record_run, name="record", cache_policy=NO_CACHE, timeout_seconds=120)


@contextmanager
def recorded_run(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> Iterator[RunSummary]:
    """Open the run's `ingest_runs` row, and record the run on the way out (failed if an error escaped)."""
    start_run(con, summary)
    try:
        yield summary
    except BaseException as exc:
        summary.status = "failed"
        summary.message = f"{type(exc).__name__}: {exc}"
        record_task(con, summary)
        raise
    record_task(con, summary)
