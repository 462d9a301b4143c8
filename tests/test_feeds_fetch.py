"""The feeds' HTTP fetcher against a real server on 127.0.0.1: retries, redirects, the SSRF guard, charsets."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from werkzeug import Request, Response

from newsetl.feeds.collect import parse_url_list
from newsetl.feeds.fetch import Fetched, FetchFailed, Fetcher, HttpPolicy

POLICY = HttpPolicy(retries=2, backoff=0.01, max_redirects=2, user_agent="ua-test")  # nothing on loopback allowed


def serving(httpserver, policy: HttpPolicy = POLICY) -> HttpPolicy:
    """`policy`, allowing the test server's own port on 127.0.0.1 and nothing else there."""
    return dataclasses.replace(policy, allow_hosts=(f"127.0.0.1:{httpserver.port}",))


def get(url: str, policy: HttpPolicy, **validators: str) -> Fetched:
    async def run() -> Fetched:
        async with Fetcher(policy) as fetcher:
            return await fetcher.get(url, **validators)
    return asyncio.run(run())


def url(httpserver, path: str) -> str:
    return f"http://127.0.0.1:{httpserver.port}{path}"


def test_503_then_429_are_retried_honouring_retry_after(httpserver) -> None:
    answers = [Response("busy", status=503), Response("slow down", status=429, headers={"Retry-After": "0"}),
               Response(b"<rss/>", status=200, content_type="application/rss+xml; charset=GBK",
                        headers={"ETag": '"e1"'})]
    httpserver.expect_request("/feed").respond_with_handler(lambda request: answers.pop(0))
    got = get(url(httpserver, "/feed"), serving(httpserver))
    assert (got.status, got.content, got.etag, got.charset, got.tries) == (200, b"<rss/>", '"e1"', "GBK", 3)
    assert [r.headers["User-Agent"] for r, _ in httpserver.log] == ["ua-test"] * 3


def test_404_is_final_and_not_retried(httpserver) -> None:
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    with pytest.raises(FetchFailed) as caught:
        get(url(httpserver, "/gone"), serving(httpserver))
    assert (caught.value.reason, caught.value.status) == ("HTTP 404 NOT FOUND", 404)
    assert len(httpserver.log) == 1


def test_5xx_gives_up_after_the_retries(httpserver) -> None:
    httpserver.expect_request("/down").respond_with_data("x", status=502)
    with pytest.raises(FetchFailed, match=r"^HTTP 502 BAD GATEWAY \(after 3 tries\)$"):
        get(url(httpserver, "/down"), serving(httpserver))
    assert len(httpserver.log) == 3


def test_redirects_are_followed_and_bounded(httpserver) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/mid"})
    httpserver.expect_request("/mid").respond_with_data("", status=302, headers={"Location": "/new"})
    httpserver.expect_request("/new").respond_with_data("<rss/>", content_type="application/xml")
    httpserver.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop2"})
    httpserver.expect_request("/loop2").respond_with_data("", status=302, headers={"Location": "/loop"})
    got = get(url(httpserver, "/old"), serving(httpserver))
    assert (got.url, got.final_url, got.content) == (url(httpserver, "/old"), url(httpserver, "/new"), b"<rss/>")
    with pytest.raises(FetchFailed, match="more than 1 redirects"):
        get(url(httpserver, "/old"), serving(httpserver, HttpPolicy(max_redirects=1)))
    with pytest.raises(FetchFailed, match="redirect loop at"):
        get(url(httpserver, "/loop"), serving(httpserver))


def test_redirect_into_a_refused_address_is_not_followed(httpserver) -> None:
    # 127.0.0.1 (on the server's port) is allow-listed; 127.0.0.2 (loopback too) is not, so the guard
    # refuses it before connecting.
    httpserver.expect_request("/hop").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.2:{httpserver.port}/feed"})
    with pytest.raises(FetchFailed) as caught:
        get(url(httpserver, "/hop"), serving(httpserver))
    assert caught.value.reason == "refused address 127.0.0.2 (loopback) for host 127.0.0.2 after 1 redirect"
    assert len(httpserver.log) == 1


def test_conditional_request_sends_validators_and_304_is_not_modified(httpserver) -> None:
    def answer(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response("<rss/>", headers={"ETag": '"v1"'})
    httpserver.expect_request("/feed").respond_with_handler(answer)
    got = get(url(httpserver, "/feed"), serving(httpserver), etag='"v1"',
              last_modified="Mon, 01 Aug 2022 00:00:00 GMT")
    assert (got.status, got.not_modified, got.content) == (304, True, None)
    request = httpserver.log[0][0]
    assert request.headers["If-Modified-Since"] == "Mon, 01 Aug 2022 00:00:00 GMT"


def test_body_limit(httpserver) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    with pytest.raises(FetchFailed, match="exceeds max_bytes 1000"):
        get(url(httpserver, "/big"), serving(httpserver, HttpPolicy(max_bytes=1000)))


def test_url_list_skips_comments_blanks_and_repeats() -> None:
    text = "# list\nhttps://a/1.md\n\n  https://a/2.md  \nhttps://a/1.md\n"
    assert parse_url_list(text) == ["https://a/1.md", "https://a/2.md"]


def test_post_urls_list_with_bad_lines_and_bad_posts(httpserver) -> None:
    """A post file without front matter is an item reject (parse); a non-URL line is a discover reject."""
    from zoneinfo import ZoneInfo

    from newsetl.config import PostUrlsSource
    from newsetl.feeds.collect import collect_remote

    post = (Path(__file__).parent / "fixtures" / "feeds" / "posts" / "10亿，又一笔PE投资落定.md").read_text("utf-8")
    httpserver.expect_request("/p/good.md").respond_with_data(post.encode("gb18030"), content_type="text/plain")
    httpserver.expect_request("/p/bad.md").respond_with_data("<p>no front matter</p>", content_type="text/plain")
    httpserver.expect_request("/list.txt").respond_with_data(
        f"{url(httpserver, '/p/good.md')}\nftp://elsewhere/x.md\n{url(httpserver, '/p/bad.md')}\n")
    source = PostUrlsSource(type="post_urls", name="p", list_url=url(httpserver, "/list.txt"))
    batch = collect_remote([source], serving(httpserver), known={}, previous={}, zones={"p": ZoneInfo("UTC")},
                           encodings=["utf-8"])
    assert [(p.title, p.locator, p.source_type) for p in batch.posts] == [
        ("10亿，又一笔PE投资落定", url(httpserver, "/p/good.md"), "post_urls")]
    assert [(r.locator, r.stage, r.error) for r in batch.rejects] == [
        ("ftp://elsewhere/x.md", "discover", f"not an http(s) URL in the list at {url(httpserver, '/list.txt')}"),
        (url(httpserver, "/p/bad.md"), "parse", "no front matter (expected a '---' block at the top)")]
    assert [(s.url, s.last_outcome, s.item_count, s.rejected_count) for s in batch.states] == [
        (url(httpserver, "/list.txt"), "fetched", 3, 1),
        (url(httpserver, "/p/good.md"), "fetched", 1, 0),
        (url(httpserver, "/p/bad.md"), "fetched", 1, 1)]
