"""`newsetl query --out FILE`: a query result written by DuckDB's own COPY writers (csv, json, parquet).

The user's SQL runs on the locked-down read-only reader (no file access there). Its result comes back as
Arrow and is written by a second, in-memory DuckDB connection that holds nothing but that result, so the
reader never gets file access and the writer never sees the warehouse.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from newsetl.errors import UsageError
from newsetl.warehouse.db import sql_string
from newsetl.warehouse.report_queries import query_failed, user_sql

# Extension -> COPY options. JSON is an array of objects, like `--format json` on stdout.
COPY_FORMATS = {
    ".csv": "FORMAT csv, HEADER true",
    ".json": "FORMAT json, ARRAY true",
    ".parquet": "FORMAT parquet",
}


def out_format(path: Path) -> str:
    """The COPY format for a file name, by extension; a UsageError (exit 2) that lists the known ones."""
    suffix = path.suffix.lower()
    if suffix not in COPY_FORMATS:
        raise UsageError(f"--out {path}: unknown extension {suffix or '(none)'!r}; "
                         f"use {', '.join(COPY_FORMATS)}")
    return suffix.lstrip(".")


def result_table(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """The result of SQL a user typed as an Arrow table, on the reader locked down first (`read_only_sandbox`)."""
    cursor = user_sql(con, sql)
    if cursor.description is None:
        raise UsageError("query failed: the statement returns no rows to write")
    try:
        return cursor.to_arrow_table()
    except duckdb.Error as exc:
        raise query_failed(exc) from None


def copy_table(table: pa.Table, path: Path) -> int:
    """Write `table` to `path` with DuckDB's COPY (format by extension); returns the rows written."""
    options = COPY_FORMATS[f".{out_format(path)}"]
    out = duckdb.connect(":memory:")
    try:
        out.register("query_result", table)
        out.execute(f"COPY query_result TO {sql_string(str(path.resolve()))} ({options})")
    except duckdb.Error as exc:
        raise UsageError(f"cannot write {path}: {str(exc).splitlines()[0]}") from None
    finally:
        out.close()
    return table.num_rows
