"""`source_roots`: the folder each ad-hoc source was rooted at (migration 010), and the sources with articles."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb


def recorded_roots(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Absolute root folder -> source name, for every ad-hoc source ingested before."""
    return dict(con.execute("SELECT root, source FROM source_roots").fetchall())


def record_roots(con: duckdb.DuckDBPyConnection, roots: dict[str, str]) -> None:
    """Remember new ad-hoc roots (root -> source name); a root recorded before keeps its name."""
    now = datetime.now(timezone.utc)
    for root, source in roots.items():
        con.execute("INSERT INTO source_roots VALUES (?, ?, ?) ON CONFLICT (root) DO NOTHING", [root, source, now])


def loaded_sources(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The names of the sources that have articles in the warehouse."""
    return [row[0] for row in con.execute("SELECT DISTINCT source FROM articles ORDER BY 1").fetchall()]
