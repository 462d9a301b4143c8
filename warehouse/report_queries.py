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


def published_span(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """(first, last) UTC day with a dated article, or None when no article has a date."""
    row = con.execute(
        "SELECT min(CAST(timezone('UTC', published_at) AS DATE)), max(CAST(timezone('UTC', published_at) AS DATE)) "
        "FROM articles WHERE published_at IS NOT NULL").fetchone()
    return None if row[0] is None else (row[0], row[1])


BUCKET_FORMATS = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}


def articles_per_bucket(con: duckdb.DuckDBPyConnection, unit: str) -> list[tuple[str, str | None, int]]:
    """(bucket label, source, articles) for EVERY UTC day/week/month from the first dated article to the last,
    oldest first; a bucket without articles is one row (label, None, 0), so gaps stay on the axis.

    Weeks start on Monday and are labelled by that day; months are labelled YYYY-MM.
    """
    if unit not in BUCKET_FORMATS:
        raise ValueError(f"unknown bucket unit {unit!r}")
    return con.execute(
        f"""
        WITH dated AS (
            SELECT date_trunc('{unit}', CAST(timezone('UTC', published_at) AS DATE)) AS bucket, source
            FROM articles WHERE published_at IS NOT NULL
        ),
        axis AS (
            SELECT CAST(unnest(generate_series(min(bucket), max(bucket), INTERVAL 1 {unit})) AS DATE) AS bucket
            FROM dated
        ),
        counts AS (SELECT bucket, source, count(*) AS articles FROM dated GROUP BY ALL)
        SELECT strftime(axis.bucket, '{BUCKET_FORMATS[unit]}'), counts.source, coalesce(counts.articles, 0)
        FROM axis LEFT JOIN counts ON counts.bucket = axis.bucket
        ORDER BY axis.bucket, counts.source
        """
    ).fetchall()


def reject_reasons(con: duckdb.DuckDBPyConnection, limit: int = 15) -> list[tuple]:
    """(stage, error, rejects, inputs, last seen 'YYYY-MM-DD HH:MM' UTC) of the commonest reject reasons."""
    return con.execute(
        """
        SELECT stage, error, count(*) AS rejects, count(DISTINCT (source, locator)) AS inputs,
               strftime(timezone('UTC', max(seen_at)), '%Y-%m-%d %H:%M')
        FROM rejects GROUP BY stage, error ORDER BY rejects DESC, max(seen_at) DESC, stage, error LIMIT ?
        """,
        [limit],
    ).fetchall()


def latest_rejects(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[tuple]:
    """(seen 'YYYY-MM-DD HH:MM' UTC, source, locator, stage, error) of the latest rejects, newest first."""
    return con.execute(
        """
        SELECT strftime(timezone('UTC', seen_at), '%Y-%m-%d %H:%M'), source, locator, stage, error
        FROM rejects ORDER BY seen_at DESC, source, locator LIMIT ?
        """,
        [limit],
    ).fetchall()


def latest_articles(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[tuple]:
    """(published 'YYYY-MM-DD HH:MM' UTC, source, title, categories joined by ' / ', editor), newest first."""
    return con.execute(
        """
        SELECT strftime(timezone('UTC', published_at), '%Y-%m-%d %H:%M'), source, title,
               array_to_string(categories, ' / '), editor
        FROM articles ORDER BY published_at DESC NULLS LAST, article_id LIMIT ?
        """,
        [limit],
    ).fetchall()


def top_categories(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[tuple[str, int]]:
    """(category, articles) of the commonest categories (an article counts once per category)."""
    return con.execute(
        """
        SELECT category, count(DISTINCT article_id) AS articles
        FROM (SELECT article_id, unnest(categories) AS category FROM articles)
        GROUP BY category ORDER BY articles DESC, category LIMIT ?
        """,
        [limit],
    ).fetchall()


def top_editors(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[tuple[str, int]]:
    """(editor, articles) of the editors with most articles."""
    return con.execute(
        "SELECT editor, articles FROM editor_summary ORDER BY articles DESC, editor LIMIT ?", [limit]).fetchall()


def image_outcomes(con: duckdb.DuckDBPyConnection, limit: int = 15) -> list[tuple]:
    """(host, URLs, fetched, failed, refused by policy, not tried yet) per image host, most URLs first.

    fetched = status ok; failed = tried and failed; refused by policy = skipped (blocked address, scheme, too
    small): never tried, so never part of a success rate; not tried yet = pending.
    """
    return con.execute(
        """
        SELECT coalesce(host, '(none)'), count(*) AS urls, count(*) FILTER (WHERE status = 'ok'),
               count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'skipped'),
               count(*) FILTER (WHERE status = 'pending')
        FROM image_fetches GROUP BY ALL ORDER BY urls DESC, 1 LIMIT ?
        """,
        [limit],
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
    """(run_id, started UTC, status, duration in seconds (finished - started, as `newsetl runs` shows it),
    discovered, new, updated, unchanged, rejected, skipped), newest first."""
    return con.execute(
        """
        SELECT run_id, strftime(timezone('UTC', started_at), '%Y-%m-%d %H:%M:%S'), status,
               round(duration_seconds, 1), discovered, new,
               updated, unchanged, rejected, skipped
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
    cursor = user_sql(con, sql)
    if cursor.description is None:
        return [], []
    try:
        return [d[0] for d in cursor.description], cursor.fetchall()
    except duckdb.Error as exc:
        raise query_failed(exc) from None


def user_sql(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyConnection:
    """Run SQL a user typed on `con`, locked down first (`read_only_sandbox`); errors are one-line UsageErrors."""
    read_only_sandbox(con)
    try:
        return con.execute(sql)
    except duckdb.Error as exc:
        raise query_failed(exc) from None


def query_failed(exc: duckdb.Error) -> UsageError:
    """A DuckDB error of a user's query as one line; a statement the sandbox refused says so."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, duckdb.PermissionException) or REFUSED.search(first):
        return UsageError(f"query failed: refused, `newsetl query` only reads the warehouse ({first})")
    return UsageError(f"query failed: {first}")
