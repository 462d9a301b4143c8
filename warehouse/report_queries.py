"""Read-only queries behind the HTML report and the `query` command (over the tables and views)."""

from __future__ import annotations

import re

import duckdb

from newsetl.errors import UsageError
from newsetl.warehouse.db import read_only_sandbox


def totals(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int, int]:
    """(articles, sources, stories with duplicates, runs)."""
    articles, sources = con.execute("SELECT count(*), count(DISTINCT source) FROM articles").fetchone()
    duplicate_stories = con.execute("SELECT count(*) FROM stories WHERE articles > 1").fetchone()[0]
    runs = con.execute("SELECT count(*) FROM ingest_runs").fetchone()[0]
    return articles, sources, duplicate_stories, runs


def articles_per_day(con: duckdb.DuckDBPyConnection, days: int) -> list[tuple[str, str, int]]:
    """(UTC day 'YYYY-MM-DD', source, articles) over the latest `days` days that have articles, oldest first."""
    return con.execute(
        """
        WITH per_day AS (
            SELECT CAST(timezone('UTC', published_at) AS DATE) AS day, source, count(*) AS articles
            FROM articles WHERE published_at IS NOT NULL GROUP BY day, source
        ),
        latest AS (SELECT DISTINCT day FROM per_day ORDER BY day DESC LIMIT ?)
        SELECT strftime(day, '%Y-%m-%d'), source, articles FROM per_day WHERE day IN (SELECT day FROM latest)
        ORDER BY day, source
        """,
        [days],
    ).fetchall()


def view_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    """Column names of a table or view."""
    return [row[0] for row in con.execute(f'DESCRIBE "{name}"').fetchall()]


def image_health_rows(con: duckdb.DuckDBPyConnection, label: str, rate: str,
                      total: str | None) -> list[tuple]:
    """(label, rate, total) rows of `image_health` with a rate, largest total first, at most 15."""
    total_sql = f'"{total}"' if total else "NULL"
    return con.execute(
        f'SELECT CAST("{label}" AS VARCHAR), "{rate}", {total_sql} FROM image_health '
        f'WHERE "{rate}" IS NOT NULL ORDER BY {total_sql} DESC NULLS LAST, 1 LIMIT 15'
    ).fetchall()


def top_keywords(con: duckdb.DuckDBPyConnection, limit: int) -> list[tuple[str, int]]:
    """(term, articles having it among their top keywords), most articles first."""
    return con.execute(
        "SELECT term, count(*) AS articles FROM article_keywords GROUP BY term ORDER BY articles DESC, term LIMIT ?",
        [limit],
    ).fetchall()


def duplicate_stories(con: duckdb.DuckDBPyConnection, limit: int = 15) -> list[tuple]:
    """(title, articles, sources, first published, min similarity) of the biggest stories with duplicates."""
    return con.execute(
        """
        SELECT title, articles, array_to_string(sources, ', '), strftime(first_published, '%Y-%m-%d %H:%M'),
               min_similarity
        FROM stories WHERE articles > 1 ORDER BY articles DESC, first_published DESC, cluster_id LIMIT ?
        """,
        [limit],
    ).fetchall()


def latest_runs(con: duckdb.DuckDBPyConnection, limit: int) -> list[tuple]:
    """(run_id, started, status, seconds, discovered, new, updated, unchanged, rejected), newest first."""
    return con.execute(
        """
        SELECT run_id, strftime(started_at, '%Y-%m-%d %H:%M:%S'), status, duration_seconds, discovered, new,
               updated, unchanged, rejected
        FROM run_history LIMIT ?
        """,
        [limit],
    ).fetchall()


# What DuckDB says when the sandbox or the read-only file refuses a statement.
REFUSED = re.compile(r"disabled by configuration|disabled through configuration|configuration has been locked|"
                     r"read-only mode|in read-only mode|Permission Error", re.IGNORECASE)


def run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of any SQL the user typed, on a connection locked down first (`read_only_sandbox`).

    Reading the warehouse (tables, views, search) works; a statement that would write a file, attach a
    database, install or load an extension or change a setting is refused. Errors become one-line usage errors.
    """
    read_only_sandbox(con)
    try:
        cursor = con.execute(sql)
        if cursor.description is None:
            return [], []
        return [d[0] for d in cursor.description], cursor.fetchall()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, duckdb.PermissionException) or REFUSED.search(first):
            raise UsageError(f"query failed: refused, `newsetl query` only reads the warehouse ({first})") from None
        raise UsageError(f"query failed: {first}") from None
