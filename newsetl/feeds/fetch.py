"""Conditional HTTP GET for feeds and post files, with the image fetcher's SSRF guard, retries and limits.

The transport, Retry-After parsing and backoff are shared with the image fetcher (`newsetl/net.py`):
- the connection layer refuses loopback, private, link-local and reserved addresses on every hop unless
  allow-listed, so a redirect cannot reach them either;
- redirects are followed by hand, at most `max_redirects`, http(s) only, loops refused;
- timeouts, connection errors, 429 (honouring Retry-After) and 5xx are retried with exponential backoff and
  jitter; other 4xx are final;
- `If-None-Match` / `If-Modified-Since` come from the last stored validators; 304 means "nothing new".

Interface: `async with Fetcher(policy) as f: fetched = await f.get(url, etag=..., last_modified=...)`, which
returns `Fetched` or raises `FetchFailed(reason)` with a one-line reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from newsetl.http.client import BlockedAddress, guarded_transport, parse_retry_after, retry_delay

REDIRECTS = frozenset({301, 302, 303, 307, 308})
ACCEPT_FEED = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


@dataclass(slots=True)
class HttpPolicy:
    """Limits and politeness for one run's requests (from the `http:` config section)."""

    user_agent: str = "newsetl/0.1 (feed reader)"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 60.0
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 3
    backoff: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    block_private: bool = True
    allow_hosts: tuple[str, ...] = ()
    concurrency: int = 8


@dataclass(slots=True)
class Fetched:
    """A response worth reading: 200 with a body, or 304 (body None)."""

    url: str
    final_url: str
    status: int
    content: bytes | None
    content_type: str | None
    etag: str | None
    last_modified: str | None
    tries: int = 1

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def charset(self) -> str | None:
        """The charset parameter of Content-Type, if the server declared one."""
        if not self.content_type:
            return None
        for part in self.content_type.split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


class FetchFailed(Exception):
    """No usable response: the one-line reason says why (HTTP status, timeout, refused address ...)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class _Retry(Exception):
    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


class Fetcher:
    """One keep-alive client for a run's feed and post requests."""

    def __init__(self, policy: HttpPolicy, *, accept: str = ACCEPT_FEED) -> None:
        self.policy = policy
        self.accept = accept
        self.client: httpx.AsyncClient | None = None
        self.slots = asyncio.Semaphore(policy.concurrency)

    async def __aenter__(self) -> "Fetcher":
        p = self.policy
        self.client = httpx.AsyncClient(
            transport=guarded_transport(block_private=p.block_private, allow_hosts=p.allow_hosts), follow_redirects=False, trust_env=False,
            timeout=httpx.Timeout(connect=p.connect_timeout, read=p.read_timeout, write=p.read_timeout,
                                  pool=p.total_timeout),
            headers={"User-Agent": p.user_agent, "Accept": self.accept},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET `url` (conditionally when validators are given), retrying what is worth retrying."""
        p = self.policy
        tries = 0
        while True:
            tries += 1
            try:
                async with self.slots:
                    try:
                        async with asyncio.timeout(p.total_timeout):
                            fetched = await self._attempt(url, etag, last_modified)
                    except TimeoutError:
                        raise _Retry(f"no complete response within {p.total_timeout:g}s") from None
                fetched.tries = tries
                return fetched
            except _Retry as retry:
                delay = self._delay(tries, retry.retry_after)
                if tries > p.retries or delay is None:
                    reason = retry.reason + (f" (after {tries} tries)" if tries > 1 else "")
                    if delay is None:
                        reason += f"; Retry-After {retry.retry_after:g}s exceeds retry_after_max"
                    raise FetchFailed(reason, retry.status) from None
                await asyncio.sleep(delay)

    def _delay(self, tries: int, retry_after: float | None) -> float | None:
        p = self.policy
        return retry_delay(tries, retry_after, backoff=p.backoff, backoff_max=p.backoff_max,
                           retry_after_max=p.retry_after_max)

    async def _attempt(self, url: str, etag: str | None, last_modified: str | None) -> Fetched:
        """One try: the request, its redirects and the body."""
        assert self.client is not None
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current, seen = url, {url}
        for hop in range(self.policy.max_redirects + 1):
            try:
                request = self.client.build_request("GET", current, headers=headers)
                response = await self.client.send(request, stream=True)
                try:
                    if response.status_code in REDIRECTS:
                        current = self._next(current, response, seen)
                        continue
                    return await self._finish(url, current, response)
                finally:
                    await response.aclose()
            except BlockedAddress as exc:
                after = f" after {hop} redirect{'s' if hop != 1 else ''}" if hop else ""
                raise FetchFailed(f"{exc}{after}") from None
            except httpx.TimeoutException as exc:
                kind = {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read", httpx.WriteTimeout: "write",
                        httpx.PoolTimeout: "pool"}.get(type(exc), "")
                raise _Retry(f"{kind} timeout".strip()) from None
            except httpx.TransportError as exc:
                raise _Retry(f"connection failed: {str(exc) or type(exc).__name__}") from None
        raise FetchFailed(f"more than {self.policy.max_redirects} redirects")

    def _next(self, current: str, response: httpx.Response, seen: set[str]) -> str:
        location = response.headers.get("location", "").strip()
        if not location:
            raise FetchFailed(f"HTTP {response.status_code} redirect without a Location", response.status_code)
        target = urljoin(current, location).split("#", 1)[0]
        if urlsplit(target).scheme.lower() not in ("http", "https"):
            raise FetchFailed(f"redirect to a non-http(s) URL: {target}", response.status_code)
        if target in seen:
            raise FetchFailed(f"redirect loop at {target}", response.status_code)
        seen.add(target)
        return target

    async def _finish(self, url: str, final: str, response: httpx.Response) -> Fetched:
        status = response.status_code
        phrase = f"HTTP {status} {response.reason_phrase}".strip()
        if status == 429 or status >= 500:
            raise _Retry(phrase, status, parse_retry_after(response.headers.get("retry-after")))
        if status not in (200, 203, 304):
            raise FetchFailed(phrase, status)
        content: bytes | None = None
        if status != 304:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.policy.max_bytes:
                raise FetchFailed(f"Content-Length {declared} exceeds max_bytes {self.policy.max_bytes}", status)
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > self.policy.max_bytes:
                    raise FetchFailed(f"body exceeds max_bytes {self.policy.max_bytes}", status)
            content = bytes(data)
        return Fetched(url=url, final_url=final, status=status, content=content,
                       content_type=response.headers.get("content-type"), etag=response.headers.get("etag"),
                       last_modified=response.headers.get("last-modified"))
