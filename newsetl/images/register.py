"""Register the image URLs articles reference: give each its fetch key, record unseen ones as pending.

No network; the ingest flow calls it even with images off.
"""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from newsetl.images.urls import normalize
from newsetl.warehouse.images import link_article_images, record_links, unkeyed_article_images

CHUNK_ROWS = 20_000  # article_images rows keyed per transaction


def link_row(article_id: str, url: str, target) -> dict:
    """The `article_images` link of one image URL to its normalized fetch key (`urls.normalize`'s target)."""
    invalid = target.kind == "invalid"
    return {
        "article_id": article_id, "url": url, "fetch_url": target.key, "host": target.host,
        "status": "skipped" if invalid else "pending",
        "reason": ("unsupported_scheme" if "scheme" in (target.error or "") else "invalid_url") if invalid else None,
        "error": target.error,
    }


def register_images(con: duckdb.DuckDBPyConnection, *, run_id: str | None = None, now: datetime | None = None) -> int:
    """Key new `article_images` rows, record unseen URLs as pending, link rows to stored images.

    Unseen URLs go to `image_fetches` as `pending` (or `skipped` when they can never be fetched), and rows are
    linked to stored images (`article_images.sha256`). Returns how many new URLs were recorded. The rows are
    taken CHUNK_ROWS at a time, so memory stays flat however many a first run brings (380k rows at 100k posts
    held +530 MB at once).
    """
    now = now or datetime.now(timezone.utc)
    added, after = 0, None
    while rows := unkeyed_article_images(con, after=after, limit=CHUNK_ROWS):
        cache: dict[tuple[str, str | None], object] = {}
        links = []
        for article_id, url, article_url in rows:
            target = cache.get((url, article_url))
            if target is None:
                target = cache[(url, article_url)] = normalize(url, article_url)
            links.append(link_row(article_id, url, target))
        added += record_links(con, links, now=now, run_id=run_id, link=False)
        after = rows[-1][0], rows[-1][1]
        del rows, links, cache
    link_article_images(con)
    return added
