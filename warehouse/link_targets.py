"""The stored posts of a source that `{% post_link %}` may name (newsetl/posts/post_links.py)."""

from __future__ import annotations

from typing import Iterator

import duckdb

CHUNK = 10_000


def source_posts(con: duckdb.DuckDBPyConnection, source: str) -> Iterator[tuple[str, str, str | None]]:
    """(locator, title, url) of every article of `source`, fetched in chunks (memory stays flat)."""
    result = con.execute("SELECT locator, title, url FROM articles WHERE source = ? ORDER BY locator", [source])
    while rows := result.fetchmany(CHUNK):
        yield from rows
