"""End to end through the real `ingest` flow: feeds and post files over HTTP on 127.0.0.1 into DuckDB."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from tests.feeds_server import KR36, SINA, FeedSite, github_link
from tests.helpers import make_config, rows, scalar

from newsetl.flows.ingest import ingest

HTTP = {"retries": 1, "backoff": 0.01, "user_agent": "newsetl-test/1.0"}


def site_http(site: FeedSite) -> dict:
    """HTTP settings that allow exactly the ports `site` serves (and its dead URL) on 127.0.0.1."""
    return {**HTTP, "allow_hosts": site.allow_hosts()}


def test_feeds_and_post_urls_load_then_revalidate(httpserver, tmp_path: Path, warehouse_path: Path) -> None:
    site = FeedSite(httpserver)
    config = make_config(tmp_path, warehouse_path, site.sources(), http=site_http(site))

    first = ingest(config)

    assert first["status"] == "partial"
    # broken.xml is cut off mid-document: its 2 recoverable items load, the problem is a warning on the run
    assert (first["discovered"], first["new"], first["updated"], first["unchanged"]) == (12, 12, 0, 0)
    assert first["rejected"] == 3
    by_source = rows(warehouse_path, "SELECT source, source_type, count(*) FROM articles GROUP BY ALL ORDER BY 1")
    assert by_source == [("36kr", "feed", 2), ("broken", "feed", 2), ("posts", "post_urls", 2), ("sina", "feed", 6)]
    assert rows(warehouse_path, "SELECT url, kind, count, message FROM feed_warnings WHERE kind = 'recovered'") == [
        (site.url("/feeds/broken.xml"), "recovered", 2, "malformed XML: no element found at line 73 (2 items recovered)")]
    assert rows(warehouse_path, "SELECT title, headline_only, repairs FROM articles WHERE source = 'broken' "
                                "ORDER BY title") == [("1-2月31个省市区一般公共预算收入全部正增长", False, []),
                                                      ("100万吨国家钾肥储备投放保春耕", True, ["id from feed URL and content"])]

    link = github_link(SINA, "100万吨国家钾肥储备投放保春耕.md")
    article = rows(warehouse_path, "SELECT title, url, locator, author, published_at, categories, body_html "
                                   "FROM articles WHERE source = 'sina' AND url = ?", [link])
    title, url, locator, author, published, categories, body_html = article[0]
    # the feed's author only named the site: the reporter named in the text ("（记者安蓓）") replaces it
    assert (title, locator, author, categories) == ("100万吨国家钾肥储备投放保春耕", link, "安蓓", SINA)
    assert published == datetime(2022, 3, 21, 12, 0, 26, tzinfo=timezone.utc)
    assert "appendQr_wrap" not in body_html and "<style" not in body_html  # newsetl's cleaning ran
    gbk = rows(warehouse_path, "SELECT title, published_at FROM articles WHERE url = ?",
               [github_link(SINA, "AI 篮球裁判火了，走步算得特别准，就问哈登慌不慌.md")])
    assert gbk == [("AI 篮球裁判火了，走步算得特别准，就问哈登慌不慌", datetime(2022, 7, 31, 6, 13, 25, tzinfo=timezone.utc))]
    assert rows(warehouse_path, "SELECT title, categories FROM articles WHERE source = '36kr' ORDER BY title") == [
        ("100亿，海南一支母基金招GP", KR36), ("10亿，又一笔PE投资落定", KR36)]
    # Post files by URL: GB18030 decoded from Content-Type, naive date read in Asia/Shanghai.
    zhihu = rows(warehouse_path, "SELECT title, url, published_at, categories FROM articles WHERE source = 'posts' "
                                 "AND locator = ?", [site.url("/posts/zhihu.md")])
    assert zhihu == [("CPU 为什么很少会坏？", site.url("/posts/zhihu.md"),
                      datetime(2022, 3, 6, 7, 9, 14, tzinfo=timezone.utc), ["社交媒体", "知乎", "知乎日报"])]

    rejects = rows(warehouse_path, "SELECT locator, stage, error FROM rejects ORDER BY locator")
    assert sorted(rejects) == sorted([
        (site.url("/feeds/missing.xml"), "fetch", "HTTP 404 NOT FOUND"),
        (site.dead_url, "fetch", rejects_for(rejects, site.dead_url)),
        (site.url("/feeds/page.html"), "fetch", "not an RSS/Atom feed: got an HTML page (text/html)"),
    ])
    assert rejects_for(rejects, site.dead_url).startswith("connection failed: ")
    assert rejects_for(rejects, site.dead_url).endswith("(after 2 tries)")
    assert scalar(warehouse_path, "SELECT status FROM ingest_runs WHERE run_id = ?", [first["run_id"]]) == "partial"

    state = rows(warehouse_path, "SELECT url, kind, etag, last_modified, last_status, last_outcome, item_count "
                                 "FROM source_state WHERE source IN ('sina', 'posts') ORDER BY url")
    assert state == [
        (site.url("/feeds/sina-gbk.xml"), "feed", '"gbk-1"', "Mon, 01 Aug 2022 00:00:00 GMT", 200, "fetched", 3),
        (site.url("/feeds/sina.xml"), "feed", '"sina-1"', "Mon, 01 Aug 2022 00:00:00 GMT", 200, "fetched", 3),
        (site.url("/posts/list.txt"), "post_list", None, None, 200, "fetched", 2),
        (site.url("/posts/sina.md"), "post_url", '"sina-post-1"', "Mon, 01 Aug 2022 00:00:00 GMT", 200, "fetched", 1),
        (site.url("/posts/zhihu.md"), "post_url", '"zhihu-1"', "Mon, 01 Aug 2022 00:00:00 GMT", 200, "fetched", 1),
    ]
    assert rows(warehouse_path, "SELECT last_outcome, last_status FROM source_state WHERE url = ?",
                [site.url("/feeds/missing.xml")]) == [("failed", 404)]
    sina_doc = site.docs["/feeds/sina.xml"]
    assert sina_doc.requests == [{"if_none_match": None, "if_modified_since": None,
                                  "user_agent": "newsetl-test/1.0"}]

    second = ingest(config)

    # The validators went out, every feed and post answered 304: nothing new, nothing loaded.
    for doc in site.docs.values():
        assert doc.requests[-1]["if_none_match"] == doc.etag
        assert doc.requests[-1]["if_modified_since"] == "Mon, 01 Aug 2022 00:00:00 GMT"
    # the two 304 post files, and broken.xml's two items (no validators: fetched again, unchanged)
    assert (second["new"], second["updated"], second["unchanged"]) == (0, 0, 4)
    assert second["status"] == "partial"  # the broken feed is still broken
    assert scalar(warehouse_path, "SELECT count(*) FROM articles") == 12
    assert scalar(warehouse_path, "SELECT count(*) FROM articles WHERE run_id = ?", [second["run_id"]]) == 0
    assert rows(warehouse_path, "SELECT DISTINCT last_outcome, last_status FROM source_state "
                                "WHERE kind IN ('feed', 'post_url') AND source <> 'broken'") == [("not_modified", 304)]
    assert scalar(warehouse_path, "SELECT item_count FROM source_state WHERE url = ?",
                  [site.url("/feeds/sina.xml")]) == 3  # kept from the last 200


def test_changed_feed_updates_only_the_changed_item(httpserver, tmp_path: Path, warehouse_path: Path) -> None:
    site = FeedSite(httpserver)
    config = make_config(tmp_path, warehouse_path, site.sources()[:1], http=site_http(site))
    first = ingest(config)
    assert (first["status"], first["new"]) == ("completed", 6)

    doc = site.docs["/feeds/sina.xml"]
    doc.body = doc.body.replace("记者21日了解到".encode(), "记者22日了解到".encode())
    doc.etag = '"sina-2"'
    second = ingest(config)

    assert (second["status"], second["new"], second["updated"], second["unchanged"]) == ("completed", 0, 1, 2)
    assert doc.requests[-1]["if_none_match"] == '"sina-1"'
    body = scalar(warehouse_path, "SELECT body_text FROM articles WHERE title = '100万吨国家钾肥储备投放保春耕'")
    assert "记者22日了解到" in body
    assert scalar(warehouse_path, "SELECT etag FROM source_state WHERE url = ?",
                  [site.url("/feeds/sina.xml")]) == '"sina-2"'


def test_loopback_feed_is_refused_without_allow_list(httpserver, tmp_path: Path, warehouse_path: Path) -> None:
    site = FeedSite(httpserver)
    config = make_config(tmp_path, warehouse_path, site.sources()[1:2], http={"retries": 0})
    summary = ingest(config)
    assert (summary["status"], summary["new"]) == ("partial", 0)
    assert rows(warehouse_path, "SELECT stage, error FROM rejects") == [
        ("fetch", "refused address 127.0.0.1 (loopback) for host 127.0.0.1")]
    assert site.docs["/feeds/36kr.atom"].requests == []


def rejects_for(rejects: list[tuple], locator: str) -> str:
    return next(error for loc, _, error in rejects if loc == locator)


def test_demo_feeds_served_by_the_static_server(tmp_path: Path, warehouse_path: Path) -> None:
    """What `make demo` does: examples/feeds on newsetl's StaticServer; the second run gets 304s."""
    from newsetl.runtime.devserver import StaticServer

    examples = Path(__file__).resolve().parents[1] / "examples" / "feeds"
    with StaticServer(examples) as server:
        sources = [{"type": "feed", "name": "sina-feed", "categories": SINA, "urls": [server.url("sina.rss.xml")]},
                   {"type": "feed", "name": "36kr-feed", "categories": KR36, "urls": [server.url("36kr.atom.xml")]}]
        config = make_config(tmp_path, warehouse_path, sources,
                             http={"allow_hosts": [urlsplit(server.base_url).netloc]})  # its port only
        first = ingest(config)
        second = ingest(config)
    assert (first["status"], first["new"], first["rejected"]) == ("completed", 8, 0)
    assert (second["status"], second["new"], second["updated"], second["discovered"]) == ("completed", 0, 0, 0)
    assert rows(warehouse_path, "SELECT source, last_outcome, last_status, item_count FROM source_state "
                                "ORDER BY source") == [("36kr-feed", "not_modified", 304, 2),
                                                       ("sina-feed", "not_modified", 304, 6)]
    assert scalar(warehouse_path, "SELECT count(*) FROM articles WHERE source = 'sina-feed' "
                                  "AND title = '1049元_斤！天价荔枝什么来头？'") == 1
