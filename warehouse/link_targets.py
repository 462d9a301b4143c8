"""The stored posts of a source that `{% post_link %}` may name (newsetl/posts/post_links.py)."""

from __future__ import annotations

from typing import Iterator

import duckdb

CHUNK = 10_000


def source_posts(con: duckdb.DuckDBPyConnection, source: str) -> Iterator[tuple[str, str, str | None]]:
    """(locator, title, url) of every article of `source`, fetched in chunks (memory stays flat); the url is
    the post's root-relative href (article_paths) when it has no public URL."""
    result = con.execute("SELECT a.locator, a.title, coalesce(a.url, p.href) FROM articles a "
                         "LEFT JOIN article_paths p ON p.source = a.source AND p.locator = a.locator "
                         "WHERE a.source = ? ORDER BY a.locator", [source])
    while rows := result.fetchmany(CHUNK):
        yield from rows
