"""`feed_warnings`: problems a feed had that did not stop its items from loading (newsetl.feeds.collect)."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pyarrow as pa

from newsetl.models import FeedWarning
from newsetl.warehouse.db import staged

WARNING_SCHEMA = pa.schema([("run_id", pa.string()), ("source", pa.string()), ("url", pa.string()),
                            ("kind", pa.string()), ("count", pa.int32()), ("message", pa.string()),
                            ("seen_at", pa.timestamp("us", tz="UTC"))])


def save_warnings(con: duckdb.DuckDBPyConnection, warnings: list[FeedWarning], run_id: str) -> int:
    """Record this run's feed warnings in one statement (not one INSERT per row); returns how many."""
    if warnings:
        now = datetime.now(timezone.utc)
        table = pa.table({"run_id": [run_id] * len(warnings), "source": [w.source for w in warnings],
                          "url": [w.url for w in warnings], "kind": [w.kind for w in warnings],
                          "count": [w.count for w in warnings], "message": [w.message for w in warnings],
                          "seen_at": [now] * len(warnings)}, schema=WARNING_SCHEMA)
        with staged(con, "new_feed_warnings", table):
            names = ", ".join(WARNING_SCHEMA.names)
            con.execute(f"INSERT INTO feed_warnings ({names}) SELECT {names} FROM new_feed_warnings")
    return len(warnings)
