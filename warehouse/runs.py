"""The `ingest_runs` table: a run's row, opened when it starts and closed when it ends."""

from __future__ import annotations

from datetime import datetime

import duckdb

from newsetl.errors import UsageError
from newsetl.runs import RunSummary


def start_run(con: duckdb.DuckDBPyConnection, summary: RunSummary, kind: str | None = None, *,
              pid: int | None = None, host: str | None = None) -> None:
    """Insert the run's row (status `running`, with the process running it); `kind` overrides the table's
    default kind (e.g. `images`)."""
    con.execute(
        "INSERT INTO ingest_runs (run_id, flow_run_id, started_at, status, sources, pid, host) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [summary.run_id, summary.flow_run_id, summary.started_at, summary.status, summary.sources, pid, host],
    )
    if kind is not None:
        con.execute("UPDATE ingest_runs SET kind = ? WHERE run_id = ?", [kind, summary.run_id])


def abort_abandoned_runs(con: duckdb.DuckDBPyConnection, *, pid: int, host: str, found_by: str,
                         now: datetime) -> list[tuple[str, int | None, str | None]]:
    """Mark the runs left `running` by another process `aborted`; returns their (run_id, pid, host).

    Call it holding the warehouse: DuckDB lets one process write the file, so a `running` row of another
    process is one whose process died (or let go of the warehouse without recording the run). Rows of this
    process are left alone: a run in this process may still be going.
    """
    abandoned = con.execute(
        "SELECT run_id, pid, host FROM ingest_runs WHERE status = 'running' "
        "AND (pid IS DISTINCT FROM ? OR host IS DISTINCT FROM ?) ORDER BY started_at",
        [pid, host]).fetchall()
    for run_id, old_pid, old_host in abandoned:
        who = f"pid {old_pid} on {old_host}" if old_pid is not None else "a newsetl version without pid records"
        con.execute(
            "UPDATE ingest_runs SET status = 'aborted', aborted_at = ?, message = ? WHERE run_id = ?",
            [now, f"aborted: its process ({who}) ended without finishing the run; found by run {found_by}",
             run_id])
    return abandoned


def set_sources(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    con.execute("UPDATE ingest_runs SET sources = ? WHERE run_id = ?", [summary.sources, summary.run_id])


def finish_run(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    con.execute(
        "UPDATE ingest_runs SET finished_at = ?, status = ?, discovered = ?, new = ?, updated = ?, "
        "unchanged = ?, rejected = ?, message = ?, skipped = ? WHERE run_id = ?",
        [summary.finished_at, summary.status, summary.discovered, summary.new, summary.updated,
         summary.unchanged, summary.rejected, summary.message, summary.skipped, summary.run_id],
    )


def per_source_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[str, int, int]]:
    """(source, articles written, inputs rejected) by this run, per source."""
    return con.execute(
        "SELECT source, sum(written)::INT, sum(rejected)::INT FROM ("
        " SELECT source, 1 AS written, 0 AS rejected FROM articles WHERE run_id = ?"
        " UNION ALL SELECT source, 0, 1 FROM rejects WHERE run_id = ?) GROUP BY source ORDER BY source",
        [run_id, run_id]).fetchall()


def recent_runs(con: duckdb.DuckDBPyConnection, limit: int) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of the latest `limit` runs, newest first: the `newsetl runs` listing."""
    try:
        cursor = con.execute(
            "SELECT run_id, status, started_at, round(epoch(finished_at - started_at), 1) AS seconds, "
            "discovered, new, updated, unchanged, rejected, skipped FROM ingest_runs ORDER BY started_at DESC LIMIT ?",
            [int(limit)])
        return [d[0] for d in cursor.description], cursor.fetchall()
    except duckdb.Error as exc:  # e.g. a negative --limit: one line, like `newsetl query`
        raise UsageError(f"query failed: {str(exc).splitlines()[0]}") from None
