"""A run's life in the warehouse: open its `ingest_runs` row, and record it on the way out (tasks/record.py)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import duckdb
from prefect.context import get_run_context

from newsetl.runs import RunSummary
from newsetl.tasks.record import record_task
from newsetl.warehouse.runs import start_run


def begin_run(sources: list[str] | None = None) -> RunSummary:
    """A RunSummary for a run starting now, tied to the current Prefect flow run (if any)."""
    return RunSummary.begin(sources, flow_run_id=_current_flow_run_id())


def _current_flow_run_id() -> str | None:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # called outside a flow run
        return None


@contextmanager
def recorded_run(con: duckdb.DuckDBPyConnection, summary: RunSummary,
                 kind: str | None = None) -> Iterator[RunSummary]:
    """Open the run's `ingest_runs` row, and record the run on the way out (failed if an error escaped)."""
    start_run(con, summary, kind)
    try:
        yield summary
    except BaseException as exc:
        summary.fail(exc)
        record_task(con, summary)
        raise
    record_task(con, summary)
