"""Exports for BI tools: each table or view to `<out>/<name>/`, as Parquet (hive-partitioned) or CSV.

`articles` is partitioned by source and UTC publication month (`source=.../published_month=YYYY-MM/`);
every other table is one file, `<out>/<name>/<name>.parquet` (or `.csv`). Read back with
`read_parquet('<out>/articles/**/*.parquet', hive_partitioning = true)`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from newsetl.errors import NewsetlError, UsageError

DEFAULT_TABLES = [
    "articles", "paragraphs", "article_images", "ingest_runs", "rejects", "story_clusters", "article_tokens",
    "daily_articles", "source_summary", "editor_summary", "origin_summary", "run_history", "stories",
    "article_keywords", "keyword_trends", "image_health",
]
FORMATS = ("parquet", "csv")
_PARTITIONED = {
    "articles": (
        "SELECT *, coalesce(strftime(timezone('UTC', published_at), '%Y-%m'), 'unknown') AS published_month "
        "FROM articles",
        ("source", "published_month"),
    ),
}


@dataclass(frozen=True)
class Exported:
    name: str
    rows: int
    path: Path


def available(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Tables and views of the main schema."""
    return {row[0] for row in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export(con: duckdb.DuckDBPyConnection, out: Path, fmt: str = "parquet",
           tables: list[str] | None = None) -> list[Exported]:
    """Write the chosen tables (default: all reporting tables and views present) under `out`."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose parquet or csv")
    have = available(con)
    if tables:
        unknown = [t for t in tables if t not in have]
        if unknown:
            raise UsageError(f"unknown table {unknown[0]!r}; choose from {', '.join(sorted(have))}")
        names = list(dict.fromkeys(tables))
    else:
        names = [t for t in DEFAULT_TABLES if t in have]
    if out.exists() and not out.is_dir():
        raise NewsetlError(f"export target {out} exists and is not a directory")
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    done = []
    for name in names:
        target = out / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        if name in _PARTITIONED:
            query, keys = _PARTITIONED[name]
            con.execute(f"COPY ({query}) TO {_quote(target)} ({options}, PARTITION_BY ({', '.join(keys)}))")
        else:
            con.execute(f'COPY (SELECT * FROM "{name}") TO {_quote(target / f"{name}.{fmt}")} ({options})')
        done.append(Exported(name, rows, target))
    return done
