"""Copying tables and views out of the warehouse as Parquet (hive-partitioned) or CSV files."""

from __future__ import annotations

from pathlib import Path

import duckdb

from newsetl.warehouse.db import sql_string

_PARTITIONED = {
    "articles": (
        "SELECT *, coalesce(strftime(timezone('UTC', published_at), '%Y-%m'), 'unknown') AS published_month "
        "FROM articles",
        ("source", "published_month"),
    ),
}


def available(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Tables and views of the main schema."""
    return {row[0] for row in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}


def copy_out(con: duckdb.DuckDBPyConnection, name: str, target: Path, fmt: str) -> int:
    """Write table/view `name` into the (existing, empty) folder `target`; returns its row count.

    `articles` is partitioned by source and UTC publication month; anything else is one `<name>.<fmt>` file.
    """
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
    if name in _PARTITIONED:
        query, keys = _PARTITIONED[name]
        con.execute(f"COPY ({query}) TO {sql_string(str(target))} ({options}, PARTITION_BY ({', '.join(keys)}))")
    else:
        con.execute(f'COPY (SELECT * FROM "{name}") TO {sql_string(str(target / f"{name}.{fmt}"))} ({options})')
    return rows
