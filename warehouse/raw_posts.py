"""Cache of parsed remote posts (`raw_posts`), the raw input that backfill reuses for feed items."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone

import duckdb
import pyarrow as pa

from newsetl.models import ParsedPost
from newsetl.warehouse.db import staged
from newsetl.warehouse.schemas import RAW_POST_SCHEMA


def _to_json(post: ParsedPost) -> str:
    data = asdict(post)
    if data.get("site_href") is None:  # Hexo site posts only (never cached here): cached rows stay as before
        data.pop("site_href", None)
    data["published_at"] = post.published_at.isoformat() if post.published_at else None
    return json.dumps(data, ensure_ascii=False)


def _from_json(text: str) -> ParsedPost:
    data = json.loads(text)
    if data["published_at"]:
        data["published_at"] = datetime.fromisoformat(data["published_at"])
    return ParsedPost(**data)


def store_posts(con: duckdb.DuckDBPyConnection, posts: list[ParsedPost]) -> int:
    """Insert or replace the cached copy of each post; returns how many were stored."""
    if not posts:
        return 0
    now = datetime.now(timezone.utc)
    table = pa.Table.from_pylist([{"article_id": p.article_id, "source": p.source, "source_type": p.source_type,
                                   "locator": p.locator, "post": _to_json(p), "stored_at": now}
                                  for p in {p.article_id: p for p in posts}.values()], schema=RAW_POST_SCHEMA)
    with staged(con, "raw_stage", table):
        con.execute("INSERT OR REPLACE INTO raw_posts BY NAME SELECT * FROM raw_stage")
    return table.num_rows


def cached_posts(con: duckdb.DuckDBPyConnection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], ParsedPost]:
    """Cached posts by (source, locator) for the given keys."""
    if not keys:
        return {}
    with staged(con, "raw_keys", pa.table({"source": [k[0] for k in keys], "locator": [k[1] for k in keys]})):
        found = con.execute("SELECT r.source, r.locator, r.post FROM raw_posts r "
                            "JOIN raw_keys USING (source, locator)").fetchall()
    return {(source, locator): _from_json(post) for source, locator, post in found}
