"""warehouse/source_state.py and feed_warnings.py: many URLs' fetch states and feed warnings saved in one statement
(the states under the default memory limit)."""

from __future__ import annotations

from datetime import datetime, timezone

from newsetl.config import Config
from newsetl.models import FeedWarning
from newsetl.warehouse.db import limit_memory, writer
from newsetl.warehouse.feed_warnings import save_warnings
from newsetl.warehouse.source_state import SourceState, load_states, save_states, successor


def test_thousands_of_states_are_saved_and_replaced(tmp_path) -> None:
    """feedparser's 2,248 test feeds in one run exhausted DuckDB's memory limit with one INSERT per row."""
    fetched = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    states = [SourceState(source="feeds", url=f"http://127.0.0.1/feed/{i}.xml", kind="feed",
                          last_outcome="fetched" if i % 3 else "failed", fetched_at=fetched,
                          etag=f'"{i}"' if i % 2 else None, last_status=200 if i % 3 else None,
                          last_error=None if i % 3 else "HTTP 500", item_count=i % 7 or None)
              for i in range(5000)]
    with writer(tmp_path / "wh.duckdb") as con:
        limit_memory(con, Config().memory_limit)
        save_states(con, states, "run-1")
        again = [successor(s, last_outcome="not_modified", last_status=304) for s in states[:10]]
        save_states(con, again, "run-2")
        stored = load_states(con, "feeds")
        runs = con.execute("SELECT run_id, count(*) FROM source_state GROUP BY run_id ORDER BY run_id").fetchall()
    assert len(stored) == 5000 and runs == [("run-1", 4990), ("run-2", 10)]
    assert stored["http://127.0.0.1/feed/40.xml"] == SourceState(
        source="feeds", url="http://127.0.0.1/feed/40.xml", kind="feed", last_outcome="fetched", fetched_at=fetched,
        etag=None, last_status=200, last_error=None, item_count=5)
    assert stored["http://127.0.0.1/feed/30.xml"].last_error == "HTTP 500"
    assert stored["http://127.0.0.1/feed/1.xml"].last_outcome == "not_modified"
    assert stored["http://127.0.0.1/feed/1.xml"].etag == '"1"'


def test_thousands_of_feed_warnings_are_saved_in_one_statement(tmp_path) -> None:
    """feed_warnings rows (789 in feedparser's suite) go in as one staged insert: every field and a UTC time."""
    warnings = [FeedWarning(source="feeds", url=f"http://127.0.0.1/feed/{i}.xml",
                            kind=("recovered", "duplicate guid", "repaired")[i % 3], count=i % 11,
                            message=f"warning {i}: <b>&amp;</b> 'quoted'") for i in range(3000)]
    before = datetime.now(timezone.utc)
    with writer(tmp_path / "wh.duckdb") as con:
        assert save_warnings(con, warnings, "run-1") == 3000 and save_warnings(con, [], "run-2") == 0
        kinds = con.execute("SELECT kind, count(*) FROM feed_warnings GROUP BY kind ORDER BY kind").fetchall()
        row = con.execute("SELECT run_id, source, url, kind, count, message, seen_at FROM feed_warnings "
                          "WHERE url = 'http://127.0.0.1/feed/1234.xml'").fetchone()
    assert kinds == [("duplicate guid", 1000), ("recovered", 1000), ("repaired", 1000)]
    assert row[:6] == ("run-1", "feeds", "http://127.0.0.1/feed/1234.xml", "duplicate guid", 2,
                       "warning 1234: <b>&amp;</b> 'quoted'")
    assert row[6].utcoffset().total_seconds() == 0 and before <= row[6] <= datetime.now(timezone.utc)
