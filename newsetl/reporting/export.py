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
from newsetl.warehouse.export import available, copy_out

__all__ = ["DEFAULT_TABLES", "FORMATS", "Exported", "available", "export"]

DEFAULT_TABLES = [
    "articles", "paragraphs", "article_images", "ingest_runs", "rejects", "story_clusters", "article_tokens",
    "daily_articles", "source_summary", "editor_summary", "origin_summary", "run_history", "stories",
    "article_keywords", "keyword_trends", "image_health",
]
FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class Exported:
    name: str
    rows: int
    path: Path


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
    done = []
    for name in names:
        target = out / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        rows = copy_out(con, name, target, fmt)
        done.append(Exported(name, rows, target))
    return done
