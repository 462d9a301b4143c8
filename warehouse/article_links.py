"""`article_links`: the posts each Hexo article's post_link/post_path tags named, and what they showed
(migration 014; newsetl/posts/post_links.py decides which articles to render again); `article_paths`: the
hrefs those tags give posts of sites without `url:` (migration 015)."""

from __future__ import annotations

from typing import Iterable

import duckdb
import pyarrow as pa

from newsetl.warehouse.db import staged, transaction

LINK_SCHEMA = pa.schema([("source", pa.string()), ("locator", pa.string()), ("target", pa.string()),
                         ("title", pa.string()), ("url", pa.string())])
# one linking article: (source, locator) and its (target, title, url) rows
LinkRows = tuple[tuple[str, str], list[tuple[str, str | None, str | None]]]


def linked_sources(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The sources with at least one stored link."""
    return {source for (source,) in con.execute("SELECT DISTINCT source FROM article_links").fetchall()}


def source_links(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple[str, str, str | None, str | None]]:
    """(locator, target, title, url) of every stored link of `source`."""
    return con.execute("SELECT locator, target, title, url FROM article_links WHERE source = ? "
                       "ORDER BY locator, target", [source]).fetchall()


def _keys(keys: Iterable[tuple[str, str]]) -> pa.Table:
    keys = sorted(set(keys))
    return pa.table({"source": [k[0] for k in keys], "locator": [k[1] for k in keys]})


def replace_links(con: duckdb.DuckDBPyConnection, articles: list[LinkRows]) -> None:
    """The stored links of each article become the given ones (in one transaction)."""
    if not articles:
        return
    rows = [(key, row) for key, links in articles for row in links]
    table = pa.Table.from_pylist([{"source": s, "locator": loc, "target": t, "title": title, "url": url}
                                  for (s, loc), (t, title, url) in rows], schema=LINK_SCHEMA)
    with transaction(con):
        _delete(con, _keys(key for key, _ in articles))
        with staged(con, "link_stage", table):
            con.execute("INSERT INTO article_links BY NAME SELECT * FROM link_stage")


def drop_links(con: duckdb.DuckDBPyConnection, keys: Iterable[tuple[str, str]]) -> None:
    """Forget the links of these (source, locator) articles (their posts no longer use post_link)."""
    table = _keys(keys)
    if table.num_rows:
        _delete(con, table)


def _delete(con: duckdb.DuckDBPyConnection, keys: pa.Table) -> None:
    with staged(con, "link_keys", keys):
        con.execute("DELETE FROM article_links a USING link_keys k "
                    "WHERE a.source = k.source AND a.locator = k.locator")


HREF_SCHEMA = pa.schema([("source", pa.string()), ("locator", pa.string()), ("href", pa.string())])


def store_hrefs(con: duckdb.DuckDBPyConnection, hrefs: list[tuple[str, str, str]]) -> None:
    """Insert or replace the root-relative hrefs (source, locator, href) of posts of sites without `url:`
    (`article_paths`, migration 015)."""
    if not hrefs:
        return
    rows = {(s, loc): href for s, loc, href in hrefs}
    table = pa.Table.from_pylist([{"source": s, "locator": loc, "href": href} for (s, loc), href in rows.items()],
                                 schema=HREF_SCHEMA)
    with staged(con, "href_stage", table):
        con.execute("INSERT OR REPLACE INTO article_paths BY NAME SELECT * FROM href_stage")
