"""`feed_warnings`: problems a feed had that did not stop its items from loading (newsetl.feeds.collect)."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from newsetl.models import FeedWarning


def save_warnings(con: duckdb.DuckDBPyConnection, warnings: list[FeedWarning], run_id: str) -> int:
    """Record this run's feed warnings; returns how many."""
    if warnings:
        now = datetime.now(timezone.utc)
        con.executemany("INSERT INTO feed_warnings VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [[run_id, w.source, w.url, w.kind, w.count, w.message, now] for w in warnings])
    return len(warnings)
