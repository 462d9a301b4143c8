"""The one HTTP GET that feeds, post URLs and images share: redirects, conditional GET, size cap, retries.

- `new_client(...)`: an `httpx.AsyncClient` on the guarded transport, redirects off (we follow them here).
- `get(client, url, limits, ...)`: one try. Follows redirects by hand (each hop counted, http(s) only, loops
  refused; the guarded transport checks every hop's address), sends `If-None-Match`/`If-Modified-Since`
  (`conditional_headers`), streams the body and stops past `limits.max_bytes`, and turns every error into a
  typed `HttpFailure` (`newsetl.http.errors`).
- `with_retries(attempt, policy)`: runs a try again while its failure is retryable, sleeping `retry_delay`
  (the server's Retry-After, or jittered exponential backoff) between tries; gives up after `policy.retries`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from newsetl.http.client import guarded_transport, parse_retry_after, retry_delay
from newsetl.http.errors import (BlockedFailure, DecodingFailure, DnsFailure, HttpFailure, HttpStatusFailure,
                                 InvalidUrl, RedirectFailure, TooLarge, TransientFailure)
from newsetl.http.guard import BlockedAddress

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
HTTP_SCHEMES = ("http", "https")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request limits."""

    max_bytes: int
    max_redirects: int
    total_timeout: float  # seconds for one try: every hop and the whole body


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int            # extra tries after the first
    backoff: float
    backoff_max: float
    retry_after_max: float  # a longer Retry-After gives up instead of waiting


@dataclass(slots=True)
class Body:
    """A usable answer: 200/203 with its bytes, or 304 Not Modified (`content` None)."""

    url: str
    final_url: str
    status: int
    content: bytes | None
    content_type: str | None
    etag: str | None
    last_modified: str | None
    redirects: int = 0


def new_client(*, connect_timeout: float, read_timeout: float, total_timeout: float, user_agent: str, accept: str,
               transport: httpx.AsyncBaseTransport | None = None, block_private: bool = True,
               allow_hosts: Iterable[str] = ()) -> httpx.AsyncClient:
    """A keep-alive client on `transport` (default: the guarded transport), redirects left to `get`."""
    return httpx.AsyncClient(
        transport=transport or guarded_transport(block_private=block_private, allow_hosts=allow_hosts),
        timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=total_timeout),
        follow_redirects=False, trust_env=False, headers={"User-Agent": user_agent, "Accept": accept},
    )


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The revalidation headers for the validators we stored last time."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


async def get(client: httpx.AsyncClient, url: str, limits: Limits, *, etag: str | None = None,
              last_modified: str | None = None, accept_not_modified: bool = True) -> Body:
    """One try at `url` within `limits.total_timeout`. Returns a `Body` or raises an `HttpFailure`."""
    try:
        async with asyncio.timeout(limits.total_timeout):
            return await _follow(client, url, limits, conditional_headers(etag, last_modified), accept_not_modified)
    except TimeoutError:
        raise TransientFailure("timeout", f"no complete response within {limits.total_timeout:g}s") from None


async def with_retries(attempt: Callable[[], Awaitable[T]], policy: RetryPolicy) -> tuple[T, int]:
    """Run `attempt` until it succeeds, returning (its result, tries); its last failure is raised with
    `tries` set and "(after N tries)" (and why a Retry-After was not waited for) added to its message."""
    tries = 0
    while True:
        tries += 1
        try:
            return await attempt(), tries
        except HttpFailure as failure:
            failure.tries = tries
            if not failure.retryable:
                raise
            delay = retry_delay(tries, failure.retry_after, backoff=policy.backoff, backoff_max=policy.backoff_max,
                                retry_after_max=policy.retry_after_max)
            if tries > policy.retries or delay is None:
                if tries > 1:
                    failure.message += f" (after {tries} tries)"
                if delay is None:
                    failure.message += f"; Retry-After {failure.retry_after:g}s exceeds retry_after_max"
                failure.args = (failure.message,)
                raise
            await asyncio.sleep(delay)


async def _follow(client: httpx.AsyncClient, url: str, limits: Limits, headers: dict[str, str],
                  accept_not_modified: bool) -> Body:
    current, seen, redirects = url, {url}, 0
    while True:
        status: int | None = None
        try:
            response = await client.send(client.build_request("GET", current, headers=headers), stream=True)
            try:
                status = response.status_code
                if status in REDIRECT_CODES:
                    current = _next_hop(current, response, redirects, limits.max_redirects, seen)
                    redirects += 1
                    continue
                return await _read(url, current, response, redirects, limits.max_bytes, accept_not_modified)
            finally:
                await response.aclose()
        except HttpFailure as failure:
            failure.redirects = redirects
            raise
        except Exception as exc:
            failure = classify(exc, status)
            if failure is None:
                raise
            failure.redirects = redirects
            raise failure from None


def _next_hop(url: str, response: httpx.Response, redirects: int, max_redirects: int, seen: set[str]) -> str:
    status = response.status_code
    location = response.headers.get("location", "").strip()
    if not location:
        raise RedirectFailure(f"http_{status}", f"HTTP {status} redirect without a Location", status=status)
    if redirects >= max_redirects:
        raise RedirectFailure("too_many_redirects", f"more than {max_redirects} redirects", status=status)
    target = urljoin(url, location)
    scheme = urlsplit(target).scheme.lower()
    if scheme not in HTTP_SCHEMES:
        raise RedirectFailure("unsupported_scheme", f"redirect to unsupported scheme {scheme!r}", status=status)
    parts = urlsplit(target)
    target = urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
    if target in seen:
        raise RedirectFailure("redirect_loop", f"redirect loop at {target}", status=status)
    seen.add(target)
    return target


async def _read(url: str, final: str, response: httpx.Response, redirects: int, max_bytes: int,
                accept_not_modified: bool) -> Body:
    status = response.status_code
    headers = response.headers
    if status == 304 and accept_not_modified:
        return Body(url, final, 304, None, headers.get("content-type"), headers.get("etag"),
                    headers.get("last-modified"), redirects)
    if status not in (200, 203):
        phrase = f"HTTP {status} {response.reason_phrase}".strip()
        retryable = status == 429 or status >= 500
        retry_after = parse_retry_after(headers.get("retry-after")) if retryable else None
        raise HttpStatusFailure(f"http_{status}", phrase, status=status, retryable=retryable, retry_after=retry_after)
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge("too_large", f"Content-Length {declared} exceeds max_bytes {max_bytes}", status=status)
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > max_bytes:
            raise TooLarge("too_large", f"body exceeds max_bytes {max_bytes}", status=status)
    return Body(url, final, status, bytes(data), headers.get("content-type"), headers.get("etag"),
                headers.get("last-modified"), redirects)


def classify(exc: BaseException, status: int | None = None) -> HttpFailure | None:
    """The typed failure for an exception raised while requesting or reading; None for anything else (a bug)."""
    if isinstance(exc, BlockedAddress):
        return BlockedFailure("blocked", str(exc))
    if isinstance(exc, httpx.TimeoutException):
        if str(exc).startswith("DNS lookup"):  # from the guard: "DNS lookup of <host> timed out"
            return TransientFailure("dns", str(exc))
        kind = {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read", httpx.PoolTimeout: "pool",
                httpx.WriteTimeout: "write"}.get(type(exc), "")
        return TransientFailure("timeout", f"{kind} timeout".strip())
    if isinstance(exc, httpx.ConnectError):
        text = str(exc) or type(exc).__name__
        if "DNS lookup" in text and "failed" in text and "Temporary" not in text:
            return DnsFailure("dns", f"connection failed: {text}")
        return TransientFailure("connect", f"connection failed: {text}")
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc) or "protocol error"
        if "complete message body" in text or "incomplete" in text:
            return TransientFailure("truncated", f"truncated body: {text}")
        return TransientFailure("protocol", text)
    if isinstance(exc, httpx.DecodingError):
        return DecodingFailure("decoding", f"body does not decode as its Content-Encoding says: {exc}", status=status)
    if isinstance(exc, httpx.TooManyRedirects):
        return RedirectFailure("too_many_redirects", str(exc) or "too many redirects")
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeError)):
        return InvalidUrl("bad_url", f"bad URL: {exc}")
    if isinstance(exc, httpx.TransportError):
        return TransientFailure("network", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return None
