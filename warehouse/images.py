"""The image tables (migration 002): `image_fetches`, `images`, `image_thumbnails`, and `article_images`' links.

Every SQL statement of the images concern, with the Arrow schemas of the rows it loads. The decisions (what a
URL's key is, what to fetch, what a result means) are in `newsetl.images`; this module only reads and writes.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from newsetl.warehouse.db import staged, transaction

_UTC = pa.timestamp("us", tz="UTC")
FETCH_SCHEMA = pa.schema([
    ("url", pa.string()), ("host", pa.string()), ("status", pa.string()), ("http_status", pa.int32()),
    ("reason", pa.string()), ("error", pa.string()), ("sha256", pa.string()), ("attempts", pa.int32()),
    ("tries", pa.int32()), ("etag", pa.string()), ("last_modified", pa.string()), ("content_type", pa.string()),
    ("final_url", pa.string()), ("redirects", pa.int32()), ("elapsed_ms", pa.int32()),
    ("fetched_at", _UTC), ("checked_at", _UTC), ("first_seen_at", _UTC), ("run_id", pa.string()),
])
IMAGE_SCHEMA = pa.schema([
    ("sha256", pa.string()), ("format", pa.string()), ("mime_type", pa.string()), ("width", pa.int32()),
    ("height", pa.int32()), ("mode", pa.string()), ("frames", pa.int32()), ("bytes", pa.int64()),
    ("path", pa.string()), ("first_seen_at", _UTC),
])
THUMB_SCHEMA = pa.schema([
    ("sha256", pa.string()), ("name", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
    ("bytes", pa.int64()), ("path", pa.string()),
])
LINK_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("url", pa.string()), ("fetch_url", pa.string()), ("host", pa.string()),
    ("status", pa.string()), ("reason", pa.string()), ("error", pa.string()),
])

# The columns of one `plan_rows` row, in order.
PLAN_COLUMNS = ["url", "raw", "host", "status", "attempts", "etag", "last_modified", "checked_at", "fetched_at",
                "sha256", "first_seen_at", "path"]


def unkeyed_article_images(con: duckdb.DuckDBPyConnection, *, after: tuple[str, str] | None = None,
                           limit: int | None = None) -> list[tuple[str, str, str | None]]:
    """(article_id, image url, article url) of every `article_images` row without a fetch key yet, each pair once.

    With `limit`: at most that many, in (article_id, url) order, those after the (article_id, url) `after`.
    DuckDB then keeps only those rows (a top-N) before it joins them to `articles`, so memory does not grow with
    the corpus: a DISTINCT over every unkeyed row joined first needed over 122 MB at 100,000 posts.
    """
    sql = "SELECT ai.article_id, ai.url FROM article_images ai WHERE ai.fetch_url IS NULL"
    params: list = []
    if after is not None:
        sql += " AND (ai.article_id > ? OR (ai.article_id = ? AND ai.url > ?))"
        params += [after[0], after[0], after[1]]
    if limit is not None:
        sql += " ORDER BY ai.article_id, ai.url LIMIT ?"
        params.append(limit)
    return con.execute(
        f"SELECT DISTINCT p.article_id, p.url, a.url FROM ({sql}) p LEFT JOIN articles a USING (article_id) "
        "ORDER BY p.article_id, p.url", params).fetchall()


def record_links(con: duckdb.DuckDBPyConnection, links: list[dict], *, now: datetime, run_id: str | None,
                 link: bool = True) -> int:
    """In one transaction: add unseen fetch keys to `image_fetches`, key the `article_images` rows, link them
    (unless not `link`: the caller calls `link_article_images` once after its last chunk).

    `links` are LINK_SCHEMA rows. Returns how many URLs were new to `image_fetches`.
    """
    with transaction(con), staged(con, "_image_links", pa.Table.from_pylist(links, schema=LINK_SCHEMA)):
        before = con.execute("SELECT count(*) FROM image_fetches").fetchone()[0]
        con.execute(
            "INSERT INTO image_fetches (url, host, status, reason, error, attempts, checked_at, first_seen_at, run_id) "
            "SELECT fetch_url, any_value(host), any_value(status), any_value(reason), any_value(error), 0, "
            "CASE WHEN any_value(status) = 'skipped' THEN ?::TIMESTAMPTZ END, ?::TIMESTAMPTZ, ? "
            "FROM _image_links GROUP BY fetch_url ON CONFLICT (url) DO NOTHING",
            [now, now, run_id],
        )
        added = con.execute("SELECT count(*) FROM image_fetches").fetchone()[0] - before
        con.execute(
            "UPDATE article_images SET fetch_url = l.fetch_url FROM _image_links l "
            "WHERE article_images.article_id = l.article_id AND article_images.url = l.url "
            "AND article_images.fetch_url IS NULL"
        )
        if link:
            link_article_images(con)
    return added


def link_article_images(con: duckdb.DuckDBPyConnection) -> None:
    """Point `article_images.sha256` at the stored image of its URL (null while there is none)."""
    con.execute(
        "UPDATE article_images SET sha256 = f.sha256 FROM image_fetches f "
        "WHERE article_images.fetch_url = f.url AND article_images.sha256 IS DISTINCT FROM f.sha256"
    )


def plan_rows(
    con: duckdb.DuckDBPyConnection,
    *,
    skip_roles: list[str] | None = None,
    since: datetime | None = None,
) -> list[dict]:
    """The `image_fetches` row (plus stored path) of every keyed URL the articles reference, ordered by URL.

    Leaves out images whose role is in `skip_roles`, and with `since` images of articles neither new nor
    changed since then. Each row is a dict with the keys of PLAN_COLUMNS.
    """
    conditions = ["ai.fetch_url IS NOT NULL"]
    params: list = []
    if skip_roles:
        conditions.append("NOT list_contains(?, ai.role)")
        params.append(skip_roles)
    if since is not None:
        conditions.append("greatest(a.updated_at, a.first_seen_at) >= ?")
        params.append(since)
    rows = con.execute(
        f"""
        SELECT f.url, min(ai.url) AS raw, f.host, f.status, f.attempts, f.etag, f.last_modified, f.checked_at,
               f.fetched_at, f.sha256, f.first_seen_at, i.path
        FROM article_images ai
        JOIN articles a USING (article_id)
        JOIN image_fetches f ON f.url = ai.fetch_url
        LEFT JOIN images i ON i.sha256 = f.sha256
        WHERE {' AND '.join(conditions)}
        GROUP BY ALL
        ORDER BY f.url
        """,
        params,
    ).fetchall()
    return [dict(zip(PLAN_COLUMNS, values)) for values in rows]


def write_results(
    con: duckdb.DuckDBPyConnection,
    fetch_rows: list[dict],
    image_rows: list[dict],
    thumb_rows: list[dict],
) -> None:
    """One transaction: replace `image_fetches` rows, add (or re-path) `images`, replace `image_thumbnails`."""
    with transaction(con):
        columns = ", ".join(FETCH_SCHEMA.names)
        with staged(con, "_fetch_rows", pa.Table.from_pylist(fetch_rows, schema=FETCH_SCHEMA)):
            con.execute(f"INSERT OR REPLACE INTO image_fetches ({columns}) SELECT {columns} FROM _fetch_rows")
        if image_rows:
            with staged(con, "_image_rows", pa.Table.from_pylist(image_rows, schema=IMAGE_SCHEMA)):
                con.execute(
                    "INSERT INTO images SELECT * FROM _image_rows "
                    "ON CONFLICT (sha256) DO UPDATE SET path = excluded.path"
                )
        if thumb_rows:
            with staged(con, "_thumb_rows", pa.Table.from_pylist(thumb_rows, schema=THUMB_SCHEMA)):
                con.execute("INSERT OR REPLACE INTO image_thumbnails SELECT * FROM _thumb_rows")


def record_run_counts(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    fetched: int,
    reused: int,
    revalidated: int,
    failed: int,
    skipped: int,
) -> None:
    """Put the image counts on the run's `ingest_runs` row."""
    con.execute(
        "UPDATE ingest_runs SET images_fetched = ?, images_reused = ?, images_revalidated = ?, "
        "images_failed = ?, images_skipped = ? WHERE run_id = ?",
        [fetched, reused, revalidated, failed, skipped, run_id],
    )
