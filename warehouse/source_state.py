"""`source_state`: per-URL fetch state of remote sources (validators, last outcome, item counts)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

import duckdb

import pyarrow as pa

from newsetl.warehouse.db import staged, transaction

COLUMNS = ("source", "url", "kind", "final_url", "etag", "last_modified", "last_status", "last_outcome",
           "last_error", "fetched_at", "changed_at", "item_count", "rejected_count")


@dataclass(slots=True)
class SourceState:
    """What the last fetch of one URL of one source saw."""

    source: str
    url: str
    kind: str                       # feed | post_list | post_url
    last_outcome: str               # fetched | not_modified | failed
    fetched_at: datetime
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    changed_at: datetime | None = None
    item_count: int | None = None
    rejected_count: int | None = None


def load_states(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, SourceState]:
    """The stored state of every URL of `source`, by URL."""
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM source_state WHERE source = ?", [source]).fetchall()
    return {row[1]: SourceState(**dict(zip(COLUMNS, row))) for row in rows}


def save_states(con: duckdb.DuckDBPyConnection, states: list[SourceState], run_id: str) -> None:
    """Insert or replace the state rows (one per source and URL) in one transaction."""
    if not states:
        return
    # One statement over an Arrow table: `executemany` ran one INSERT OR REPLACE per row, and with feedparser's
    # 2,248 test feeds in one run it exhausted DuckDB's memory limit (512 MB and 256 MB; the run failed).
    table = pa.table({**{c: [getattr(s, c) for s in states] for c in COLUMNS}, "run_id": [run_id] * len(states)})
    with transaction(con), staged(con, "new_states", table):
        con.execute(f"INSERT OR REPLACE INTO source_state ({', '.join(COLUMNS)}, run_id) "
                    f"SELECT {', '.join(COLUMNS)}, run_id FROM new_states")


def successor(previous: SourceState | None, **changes: object) -> SourceState:
    """The next state of a URL: the previous one (validators, counts) updated with `changes`."""
    if previous is None:
        return SourceState(**changes)  # type: ignore[arg-type]
    return dataclasses.replace(previous, **changes)
