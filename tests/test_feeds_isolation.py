"""One bad feed or post URL never fails the run: whatever goes wrong while fetching or parsing it becomes a
`fetch` reject for that URL, and the good feeds' items still load (a real server on 127.0.0.1, the real flow)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from newsetl.feeds.collect import Context, RemoteBatch, _isolated
from newsetl.flows.ingest import ingest
from tests.feeds_server import FIXTURES, FeedSite
from tests.helpers import make_config, rows

# feedparser itself raises UnicodeDecodeError on an XML declaration whose encoding name is not UTF-8 bytes
BAD_DECLARATION = (b'<?xml version="1.0" encoding="gb\xb72312"?>\n<rss version="2.0"><channel><title>x</title>'
                   b'<item><title>a</title><link>http://127.0.0.1/a</link></item></channel></rss>')


def test_bad_feeds_and_urls_among_good_ones(httpserver, tmp_path: Path, warehouse_path: Path) -> None:
    site = FeedSite(httpserver)
    httpserver.expect_request("/feeds/bad-declaration.xml").respond_with_data(
        BAD_DECLARATION, content_type="application/rss+xml")
    httpserver.expect_request("/feeds/lying-gzip.xml").respond_with_data(  # plain bytes that claim to be gzip
        (FIXTURES / "sina.rss.xml").read_bytes(), content_type="application/rss+xml",
        headers={"Content-Encoding": "gzip"})
    httpserver.expect_request("/posts/hostile-list.txt").respond_with_data(
        f"http://0177.0.0.1/\nftp://127.0.0.1/x.md\n{site.url('/posts/sina.md')}\n", content_type="text/plain")
    good = [s for s in site.sources() if s["name"] != "broken"]  # sina (2 feeds), 36kr, posts (a list of 2)
    hostile = [{"type": "feed", "name": "hostile-feeds",
                "urls": [site.url("/feeds/bad-declaration.xml"), site.url("/feeds/lying-gzip.xml")]},
               {"type": "post_urls", "name": "hostile-list", "list_url": site.url("/posts/hostile-list.txt")}]
    http = {"allow_hosts": [f"127.0.0.1:{httpserver.port}"], "retries": 0}
    config = make_config(tmp_path, warehouse_path, good[:2] + hostile + good[2:], http=http)

    summary = ingest(config)

    assert summary["status"] == "partial"
    assert (summary["new"], summary["rejected"]) == (6 + 2 + 2 + 1, 4)
    assert rows(warehouse_path, "SELECT source, count(*) FROM articles GROUP BY ALL ORDER BY 1") == [
        ("36kr", 2), ("hostile-list", 1), ("posts", 2), ("sina", 6)]
    rejects = {locator: (stage, error) for locator, stage, error in rows(
        warehouse_path, "SELECT locator, stage, error FROM rejects")}
    assert set(rejects) == {site.url("/feeds/bad-declaration.xml"), site.url("/feeds/lying-gzip.xml"),
                            "http://0177.0.0.1/", "ftp://127.0.0.1/x.md"}
    stage, error = rejects[site.url("/feeds/bad-declaration.xml")]
    assert stage == "fetch" and "decode" in error.lower() and "\n" not in error, error
    assert rejects[site.url("/feeds/lying-gzip.xml")][0] == "fetch"
    assert rejects[site.url("/feeds/lying-gzip.xml")][1].startswith(
        "body does not decode as its Content-Encoding says: ")
    assert rejects["http://0177.0.0.1/"] == ("fetch", "bad URL: Invalid IPv4 address: '0177.0.0.1'")
    assert rejects["ftp://127.0.0.1/x.md"][0] == "discover"
    outcomes = dict(rows(warehouse_path, "SELECT url, last_outcome FROM source_state"))
    assert outcomes[site.url("/feeds/bad-declaration.xml")] == "failed"
    assert outcomes[site.url("/feeds/sina.xml")] == "fetched"
    assert rows(warehouse_path, "SELECT status FROM ingest_runs") == [("partial",)]


def test_any_exception_in_one_url_job_is_a_fetch_reject() -> None:
    ctx = Context(fetcher=None, known={}, previous={}, zones={}, encodings=["utf-8"])
    out = RemoteBatch()

    async def broken(part: RemoteBatch) -> None:
        part.unchanged += 5  # collected before it broke: dropped with it
        raise RuntimeError("no such\nthing")

    async def fine(part: RemoteBatch) -> None:
        part.unchanged += 1

    async def run() -> None:
        await _isolated(ctx, "src", "http://127.0.0.1:9/feed.xml", "feed", broken, out)
        await _isolated(ctx, "src", "http://127.0.0.1:9/ok.xml", "feed", fine, out)

    asyncio.run(run())
    assert out.unchanged == 1
    assert [(r.source, r.locator, r.stage, r.error) for r in out.rejects] == [
        ("src", "http://127.0.0.1:9/feed.xml", "fetch", "RuntimeError: no such thing")]
    assert [(s.url, s.last_outcome, s.last_error) for s in out.states] == [
        ("http://127.0.0.1:9/feed.xml", "failed", "RuntimeError: no such thing")]
