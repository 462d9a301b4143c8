"""Backfill and reprocess through the real flows and CLI, on a real DuckDB file."""

from __future__ import annotations

import re

from pathlib import Path

from schedule_helpers import copy_posts, make, rows, write_config, config_dict

from newsetl.rules import load_rules
from newsetl.flows.backfill import Selection, backfill
from newsetl.flows.ingest import ingest
from newsetl.cli import main

ARTICLE_STATE = "SELECT article_id, run_id, rules_version FROM articles ORDER BY article_id"


def test_backfill_reloads_exactly_the_window(tmp_path: Path, capsys) -> None:
    posts = copy_posts(tmp_path)
    config = make(tmp_path, posts)
    warehouse = tmp_path / "wh.duckdb"
    first = ingest(config)
    assert (first["status"], first["new"]) == ("completed", 15)
    before = {a: run for a, run, _ in rows(warehouse, ARTICLE_STATE)}
    # 2021-03-29 .. 2021-08-30 inclusive: 4 posts; 2021-03-27 and 2021-09-20 lie just outside.
    window = {r[0] for r in rows(warehouse, "SELECT article_id FROM articles WHERE published_at::DATE "
                                            "BETWEEN DATE '2021-03-29' AND DATE '2021-08-30'")}
    assert len(window) == 4

    code = main(["backfill", "--config", str(write_config(tmp_path, config_dict(tmp_path, posts))),
                 "--since", "2021-03-29", "--until", "2021-08-30"])
    out = capsys.readouterr().out

    assert code == 0
    assert "completed" in out and "4 selected, 4 reloaded" in out
    assert re.search(r"^Prefect flow run: \S+/runs/flow-run/[0-9a-f-]{36}$", out, re.M)  # a real API: a link
    (run_id, status, discovered, updated, new) = rows(
        warehouse, "SELECT run_id, status, discovered, updated, new FROM ingest_runs "
                   "WHERE run_id <> ? ", [first["run_id"]])[0]
    assert (status, discovered, updated, new) == ("completed", 4, 4, 0)
    after = {a: run for a, run, _ in rows(warehouse, ARTICLE_STATE)}
    assert {a for a, run in after.items() if run == run_id} == window
    assert all(after[a] == before[a] == first["run_id"] for a in after if a not in window)
    assert rows(warehouse, "SELECT count(*) FROM articles")[0][0] == 15


def test_backfill_by_source_and_missing_cache(tmp_path: Path) -> None:
    posts = copy_posts(tmp_path)
    config = make(tmp_path, posts)
    warehouse = tmp_path / "wh.duckdb"
    ingest(config)
    gone = rows(warehouse, "SELECT locator FROM articles WHERE published_at::DATE = DATE '2019-01-08'")[0][0]
    (posts / gone).unlink()

    summary = backfill(config, Selection(source="posts"))

    assert (summary["discovered"], summary["updated"], summary["rejected"]) == (15, 14, 1)
    assert rows(warehouse, "SELECT stage, error LIKE 'cached input gone:%' FROM rejects "
                           "WHERE run_id = ?", [summary["run_id"]]) == [("read", True)]
    assert rows(warehouse, "SELECT count(*) FROM articles")[0][0] == 15  # nothing lost


def test_reprocess_rules_changed_picks_only_old_versions(tmp_path: Path, capsys) -> None:
    import duckdb

    posts = copy_posts(tmp_path)
    data = config_dict(tmp_path, posts)
    config = make(tmp_path, posts)
    warehouse = tmp_path / "wh.duckdb"
    ingest(config)
    con = duckdb.connect(str(warehouse))
    old = [r[0] for r in con.execute("SELECT article_id FROM articles ORDER BY article_id LIMIT 3").fetchall()]
    con.execute("UPDATE articles SET rules_version = '0' WHERE article_id IN (?, ?, ?)", old)
    con.close()

    code = main(["reprocess", "--config", str(write_config(tmp_path, data)), "--rules-changed"])
    out = capsys.readouterr().out

    assert code == 0 and "3 selected, 3 reloaded" in out
    assert rows(warehouse, "SELECT count(*) FROM articles WHERE rules_version = ?", [load_rules().version])[0][0] == 15
    run_id = rows(warehouse, "SELECT run_id FROM ingest_runs ORDER BY started_at DESC LIMIT 1")[0][0]
    assert sorted(r[0] for r in rows(warehouse, "SELECT article_id FROM articles WHERE run_id = ?", [run_id])) == old


def test_backfill_bad_dates_are_one_line_usage_errors(tmp_path: Path, capsys) -> None:
    path = write_config(tmp_path, config_dict(tmp_path, tmp_path))
    assert main(["backfill", "--config", str(path), "--since", "2022-02-01", "--until", "2022-01-01"]) == 2
    assert capsys.readouterr().err == "newsetl: error: --until 2022-01-01 is before --since 2022-02-01\n"
    assert main(["backfill", "--config", str(path), "--since", "2022-01-01", "--source", "nope"]) == 2
    assert "unknown source 'nope'" in capsys.readouterr().err


def test_backfill_reuses_cached_feed_items_without_fetching(httpserver, tmp_path: Path) -> None:
    from tests.feeds_server import FeedSite
    from tests.helpers import make_config

    site = FeedSite(httpserver)
    http = {"allow_hosts": site.allow_hosts(), "retries": 1, "backoff": 0.01, "user_agent": "newsetl-test/1.0"}
    config = make_config(tmp_path, tmp_path / "wh.duckdb", site.sources(), http=http)
    warehouse = tmp_path / "wh.duckdb"
    first = ingest(config)
    assert rows(warehouse, "SELECT source_type, count(*) FROM raw_posts GROUP BY 1 ORDER BY 1") == [
        ("feed", 10), ("post_urls", 2)]  # 6 sina + 2 36kr + 2 recovered from the truncated broken.xml
    requests_before = len(httpserver.log)

    summary = backfill(config, Selection(source="sina"))

    assert len(httpserver.log) == requests_before  # nothing fetched: the cache was used
    assert (summary["status"], summary["discovered"], summary["updated"], summary["rejected"]) == (
        "completed", 6, 6, 0)
    assert rows(warehouse, "SELECT source, count(*) FROM articles WHERE run_id = ? GROUP BY 1",
                [summary["run_id"]]) == [("sina", 6)]
    assert rows(warehouse, "SELECT count(*) FROM articles WHERE run_id = ?", [first["run_id"]])[0][0] == 6
