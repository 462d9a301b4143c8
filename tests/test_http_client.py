"""The shared HTTP client (newsetl.http.request) against a real server on 127.0.0.1: redirects re-guarded on
every hop, the streamed size cap, conditional GET, retries, and typed failures for bad bodies and bad URLs."""

from __future__ import annotations

import asyncio
import gzip
import time
from urllib.parse import urlsplit

import httpx
import pytest
from werkzeug import Request, Response

from newsetl.feeds.fetch import FetchFailed, Fetcher, HttpPolicy
from newsetl.http.errors import (BlockedFailure, DecodingFailure, HttpStatusFailure, InvalidUrl, RedirectFailure,
                                 TooLarge, TransientFailure)
from newsetl.http.request import Body, Limits, RetryPolicy, classify, get, new_client, with_retries
from newsetl.images.fetcher import FetchJob, ImageFetcher
from newsetl.images.store import ImageStore
from images_helpers import make_config

LIMITS = Limits(max_bytes=10_000, max_redirects=3, total_timeout=5)
RETRY = RetryPolicy(retries=2, backoff=0.01, backoff_max=0.05, retry_after_max=10)


def fetch(url: str, limits: Limits = LIMITS, **kwargs) -> Body:
    async def run() -> Body:
        async with client(url) as c:
            return await get(c, url, limits, **kwargs)
    return asyncio.run(run())


def fetch_retrying(url: str) -> tuple[Body, int]:
    async def run() -> tuple[Body, int]:
        async with client(url) as c:
            return await with_retries(lambda: get(c, url, LIMITS), RETRY)
    return asyncio.run(run())


def served(url: str) -> list[str]:
    """`allow_hosts` opening only the 127.0.0.1 port that `url` is served on (nothing for any other URL)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a malformed URL: it fails before any connection, nothing to allow
        return []
    return [f"127.0.0.1:{port}"] if parts.hostname == "127.0.0.1" and port is not None else []


def client(url: str) -> httpx.AsyncClient:
    """A client that may connect to the local server `url` is on, on its port only."""
    return new_client(connect_timeout=2, read_timeout=2, total_timeout=5, user_agent="ua-http", accept="*/*",
                      allow_hosts=served(url))


def url(httpserver, path: str) -> str:
    return f"http://127.0.0.1:{httpserver.port}{path}"


# -- redirects ------------------------------------------------------------------------------------------------

def test_redirect_chain_is_followed_and_counted(httpserver) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b#frag"})
    httpserver.expect_request("/b").respond_with_data("", status=307, headers={"Location": url(httpserver, "/c")})
    httpserver.expect_request("/c").respond_with_data("done", content_type="text/plain")
    body = fetch(url(httpserver, "/a"))
    assert (body.url, body.final_url, body.status, body.content, body.redirects) == (
        url(httpserver, "/a"), url(httpserver, "/c"), 200, b"done", 2)
    assert [r.headers["User-Agent"] for r, _ in httpserver.log] == ["ua-http"] * 3


def test_every_redirect_hop_is_checked_by_the_guard(httpserver) -> None:
    # 127.0.0.1 is allow-listed; the second hop goes to 127.0.0.2 (loopback, not allowed): refused before connecting.
    httpserver.expect_request("/one").respond_with_data("", status=302, headers={"Location": "/two"})
    httpserver.expect_request("/two").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.2:{httpserver.port}/secret"})
    with pytest.raises(BlockedFailure) as caught:
        fetch(url(httpserver, "/one"))
    failure = caught.value
    assert (failure.reason, failure.message, failure.redirects, failure.retryable) == (
        "blocked", "refused address 127.0.0.2 (loopback) for host 127.0.0.2", 2, False)
    assert [r.path for r, _ in httpserver.log] == ["/one", "/two"]


def test_redirect_loop_too_many_and_bad_scheme_are_redirect_failures(httpserver) -> None:
    httpserver.expect_request("/x").respond_with_data("", status=302, headers={"Location": "/y"})
    httpserver.expect_request("/y").respond_with_data("", status=302, headers={"Location": "/x"})
    for n in range(5):
        httpserver.expect_request(f"/r{n}").respond_with_data("", status=302, headers={"Location": f"/r{n + 1}"})
    httpserver.expect_request("/ftp").respond_with_data("", status=302, headers={"Location": "ftp://127.0.0.1/f"})
    httpserver.expect_request("/nowhere").respond_with_data("", status=302)
    found = {}
    for path in ("/x", "/r0", "/ftp", "/nowhere"):
        with pytest.raises(RedirectFailure) as caught:
            fetch(url(httpserver, path))
        found[path] = (caught.value.reason, caught.value.message, caught.value.status)
    assert found == {
        "/x": ("redirect_loop", f"redirect loop at {url(httpserver, '/x')}", 302),
        "/r0": ("too_many_redirects", "more than 3 redirects", 302),
        "/ftp": ("unsupported_scheme", "redirect to unsupported scheme 'ftp'", 302),
        "/nowhere": ("http_302", "HTTP 302 redirect without a Location", 302),
    }


# -- size cap -------------------------------------------------------------------------------------------------

def test_declared_length_over_the_cap_is_refused_before_reading(httpserver) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 20_000)
    with pytest.raises(TooLarge) as caught:
        fetch(url(httpserver, "/big"))
    assert (caught.value.reason, caught.value.message, caught.value.status) == (
        "too_large", "Content-Length 20000 exceeds max_bytes 10000", 200)


def test_streamed_body_is_cut_off_past_the_cap(httpserver) -> None:
    sent = []

    def chunks():  # no Content-Length: chunked transfer, so only counting the bytes can stop it
        for _ in range(2000):
            sent.append(1)
            yield b"y" * 4096

    httpserver.expect_request("/stream").respond_with_handler(lambda request: Response(chunks()))
    started = time.monotonic()
    with pytest.raises(TooLarge) as caught:
        fetch(url(httpserver, "/stream"))
    assert (caught.value.reason, caught.value.message) == ("too_large", "body exceeds max_bytes 10000")
    assert time.monotonic() - started < 3
    assert len(sent) < 2000  # the client hung up: the server never sent its 8 MB


def test_exactly_at_the_cap_is_fine(httpserver) -> None:
    httpserver.expect_request("/fits").respond_with_data(b"z" * 10_000)
    assert fetch(url(httpserver, "/fits")).content == b"z" * 10_000


# -- conditional GET ------------------------------------------------------------------------------------------

def test_conditional_get_sends_validators_and_304_means_not_modified(httpserver) -> None:
    def answer(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v2"':
            return Response(status=304, headers={"ETag": '"v2"'})
        return Response("fresh", headers={"ETag": '"v2"', "Last-Modified": "Tue, 02 Aug 2022 00:00:00 GMT"})

    httpserver.expect_request("/doc").respond_with_handler(answer)
    first = fetch(url(httpserver, "/doc"))
    assert (first.status, first.content, first.etag, first.last_modified) == (
        200, b"fresh", '"v2"', "Tue, 02 Aug 2022 00:00:00 GMT")
    again = fetch(url(httpserver, "/doc"), etag=first.etag, last_modified=first.last_modified)
    assert (again.status, again.content, again.etag) == (304, None, '"v2"')
    sent = httpserver.log[1][0].headers
    assert (sent["If-None-Match"], sent["If-Modified-Since"]) == ('"v2"', "Tue, 02 Aug 2022 00:00:00 GMT")
    assert "If-None-Match" not in httpserver.log[0][0].headers
    with pytest.raises(HttpStatusFailure) as caught:  # a 304 we did not ask for is not a body
        fetch(url(httpserver, "/doc"), etag='"v2"', accept_not_modified=False)
    assert (caught.value.reason, caught.value.status, caught.value.retryable) == ("http_304", 304, False)


# -- retries --------------------------------------------------------------------------------------------------

def test_5xx_and_429_are_retried_then_succeed(httpserver) -> None:
    answers = [Response("busy", status=503), Response("later", status=429, headers={"Retry-After": "0"}),
               Response("ok")]
    httpserver.expect_request("/flaky").respond_with_handler(lambda request: answers.pop(0))
    body, tries = fetch_retrying(url(httpserver, "/flaky"))
    assert (body.content, tries, len(httpserver.log)) == (b"ok", 3, 3)


def test_retries_give_up_with_the_count_and_4xx_is_final(httpserver) -> None:
    httpserver.expect_request("/down").respond_with_data("x", status=502)
    httpserver.expect_request("/wait").respond_with_data("x", status=429, headers={"Retry-After": "3600"})
    httpserver.expect_request("/gone").respond_with_data("x", status=404)
    outcomes = {}
    for path in ("/down", "/wait", "/gone"):
        with pytest.raises(HttpStatusFailure) as caught:
            fetch_retrying(url(httpserver, path))
        outcomes[path] = (caught.value.message, caught.value.tries, caught.value.retry_after)
    assert outcomes == {
        "/down": ("HTTP 502 BAD GATEWAY (after 3 tries)", 3, None),
        "/wait": ("HTTP 429 TOO MANY REQUESTS; Retry-After 3600s exceeds retry_after_max", 1, 3600.0),
        "/gone": ("HTTP 404 NOT FOUND", 1, None),
    }
    assert [r.path for r, _ in httpserver.log] == ["/down"] * 3 + ["/wait", "/gone"]


def test_connection_refused_is_transient_and_retried(httpserver) -> None:
    port = httpserver.port
    httpserver.stop()  # nothing listens there now
    try:
        with pytest.raises(TransientFailure) as caught:
            fetch_retrying(f"http://127.0.0.1:{port}/x")
        assert (caught.value.reason, caught.value.tries) == ("connect", 3)
        assert caught.value.message == "connection failed: All connection attempts failed (after 3 tries)"
    finally:
        httpserver.start()


# -- typed failures for bodies and URLs -----------------------------------------------------------------------

def lying_gzip(httpserver) -> str:
    httpserver.expect_request("/lying").respond_with_data(
        b"this is not gzip at all", headers={"Content-Encoding": "gzip"}, content_type="application/xml")
    return url(httpserver, "/lying")


def test_lying_content_encoding_is_a_decoding_failure_not_retried(httpserver) -> None:
    target = lying_gzip(httpserver)
    with pytest.raises(DecodingFailure) as caught:
        fetch_retrying(target)
    failure = caught.value
    assert (failure.reason, failure.status, failure.retryable, failure.tries) == ("decoding", 200, False, 1)
    assert failure.message.startswith("body does not decode as its Content-Encoding says: ")
    assert len(httpserver.log) == 1


def test_honest_gzip_is_decoded(httpserver) -> None:
    httpserver.expect_request("/gz").respond_with_data(gzip.compress(b"<rss/>"), headers={"Content-Encoding": "gzip"})
    assert fetch(url(httpserver, "/gz")).content == b"<rss/>"


def test_feeds_and_images_report_the_same_decoding_failure(httpserver, tmp_path) -> None:
    """The drift this client closes: both users turn a lying Content-Encoding into the same typed failure."""
    target = lying_gzip(httpserver)

    async def feed() -> FetchFailed:
        policy = HttpPolicy(allow_hosts=(f"127.0.0.1:{httpserver.port}",), retries=2, backoff=0.01)
        async with Fetcher(policy) as fetcher:
            with pytest.raises(FetchFailed) as caught:
                await fetcher.get(target)
            return caught.value

    async def image():
        config = make_config(tmp_path, allow_hosts=[f"127.0.0.1:{httpserver.port}"])
        async with ImageFetcher(config.images, ImageStore(tmp_path / "store")) as fetcher:
            return await fetcher.fetch(FetchJob(url=target, source=target, host="127.0.0.1"))

    feed_failure = asyncio.run(feed())
    result = asyncio.run(image())
    assert feed_failure.status == 200
    assert feed_failure.reason.startswith("body does not decode as its Content-Encoding says: ")
    assert (result.status, result.reason, result.http_status, result.tries) == ("failed", "decoding", 200, 1)
    assert result.error == feed_failure.reason
    assert len(httpserver.log) == 2  # one try each: the same bytes would fail again


@pytest.mark.parametrize(("bad", "says"), [
    ("http://0177.0.0.1/", "bad URL: Invalid IPv4 address: '0177.0.0.1'"),
    ("http://999.1.1.1/a.png", "bad URL: Invalid IPv4 address: '999.1.1.1'"),
    ("http://[::1/feed", "bad URL: Invalid port: ':1'"),
    ("http:///nohost", "bad URL: Request URL is missing an 'http://' or 'https://' protocol."),
])
def test_malformed_urls_are_typed_failures(bad: str, says: str) -> None:
    with pytest.raises(InvalidUrl) as caught:
        fetch(bad)
    assert (caught.value.reason, caught.value.message, caught.value.retryable) == ("bad_url", says, False)

    async def feed() -> str:
        async with Fetcher(HttpPolicy()) as fetcher:
            with pytest.raises(FetchFailed) as failed:
                await fetcher.get(bad)
            return failed.value.reason
    assert asyncio.run(feed()) == says


def test_total_timeout_and_read_timeout_are_transient(httpserver) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.8)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(TransientFailure) as caught:
        fetch(url(httpserver, "/slow"), Limits(max_bytes=100, max_redirects=1, total_timeout=0.3))
    assert (caught.value.reason, caught.value.message, caught.value.retryable) == (
        "timeout", "no complete response within 0.3s", True)
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:  # let the handler finish before the next test
        time.sleep(0.05)
    assert len(httpserver.log) == 1


def test_classify_maps_library_errors_and_leaves_bugs_alone() -> None:
    request = httpx.Request("GET", "http://example.test/")
    cases = {
        httpx.TooManyRedirects("Exceeded maximum allowed redirects.", request=request):
            (RedirectFailure, "too_many_redirects"),
        httpx.ReadTimeout("timed out", request=request): (TransientFailure, "timeout"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body", request=request):
            (TransientFailure, "truncated"),
        httpx.DecodingError("bad gzip", request=request): (DecodingFailure, "decoding"),
        httpx.InvalidURL("Invalid port: 'x'"): (InvalidUrl, "bad_url"),
    }
    assert {type(exc).__name__: (type(classify(exc)), classify(exc).reason) for exc in cases} == {
        type(exc).__name__: expected for exc, expected in cases.items()}
    assert classify(KeyError("a bug")) is None
