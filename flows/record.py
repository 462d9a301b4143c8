"""A run's life in the warehouse: open its `ingest_runs` row, and record it on the way out (tasks/record.py)."""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import duckdb
from prefect.context import get_run_context
from prefect.states import Completed, State

from newsetl.errors import WarehouseOutOfMemory
from newsetl.runs import RunSummary, counts_line
from newsetl.runtime.timeline import mark
from newsetl.tasks.record import record_task
from newsetl.warehouse.runs import abort_abandoned_runs, start_run


def begin_run(sources: list[str] | None = None) -> RunSummary:
    """A RunSummary for a run starting now, tied to the current Prefect flow run (if any)."""
    mark("flow started")
    return RunSummary.begin(sources, flow_run_id=_current_flow_run_id())


def _current_flow_run_id() -> str | None:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # called outside a flow run
        return None


@contextmanager
def recorded_run(con: duckdb.DuckDBPyConnection, summary: RunSummary,
                 kind: str | None = None) -> Iterator[RunSummary]:
    """Open the run's `ingest_runs` row, and record the run on the way out (failed if an error escaped).

    First, runs left `running` by a process that died are marked `aborted` (`abort_abandoned_runs`): this
    process holds the warehouse, so no other process can still be running them.
    """
    pid, host = os.getpid(), socket.gethostname()
    aborted = abort_abandoned_runs(con, pid=pid, host=host, found_by=summary.run_id, now=datetime.now(timezone.utc))
    if aborted:
        summary.extra["aborted runs"] = ", ".join(run_id for run_id, _, _ in aborted)
    start_run(con, summary, kind, pid=pid, host=host)
    try:
        yield summary
    except BaseException as exc:
        summary.fail(exc)
        record_task(con, summary)
        if isinstance(exc, duckdb.OutOfMemoryException):  # a setting the user can change: one line, not a traceback
            raise WarehouseOutOfMemory(out_of_memory(exc)) from None
        raise
    record_task(con, summary)
    mark("run recorded")


def out_of_memory(exc: duckdb.OutOfMemoryException) -> str:
    """The line for a run DuckDB stopped at its memory limit (its own first line, and what to change)."""
    return (f"the warehouse ran out of memory ({str(exc).splitlines()[0]}); the run is recorded as failed: raise "
            "`memory_limit` in the config (default 256MB; null lifts the cap)")


def run_state(summary: dict) -> dict | State:
    """What a flow returns: the summary dict, or for a partial run a Completed state named "Partial" carrying it.

    Prefect's UI then shows a partial run as "Partial", not as a plain success; calling the flow still returns
    the summary dict (the state's data). A failed run raised already: its state is Failed.
    """
    if summary.get("status") != "partial":
        return summary
    problems = summary.get("problems") or []
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    counts = f"run {summary['run_id']}: {counts_line(summary)}"
    return Completed(name="Partial", message=f"{counts}; partial: {'; '.join(problems[:3])}{more}", data=summary)
