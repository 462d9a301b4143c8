"""Conditional HTTP GET for feeds and post files: a thin user of the shared client in `newsetl.http`.

`newsetl.http.request` does the work for feeds, post URLs and images alike: the SSRF-guarded transport
(every hop's address checked), redirects followed by hand (at most `max_redirects`, http(s) only, loops
refused), `If-None-Match` / `If-Modified-Since` from the last stored validators (304 means "nothing new"),
the streamed size cap, and retries of timeouts, connection errors, 429 (honouring Retry-After) and 5xx with
jittered exponential backoff. Every failure arrives typed (`newsetl.http.errors`); here it becomes
`FetchFailed(reason)` with its one-line message.

Interface: `async with Fetcher(policy) as f: fetched = await f.get(url, etag=..., last_modified=...)`, which
returns `Fetched` or raises `FetchFailed(reason)` with a one-line reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from newsetl.http.errors import BlockedFailure, HttpFailure
from newsetl.http.request import Body, Limits, RetryPolicy, get, new_client, with_retries

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
class Fetched(Body):
    """A response worth reading (the HTTP client's `Body`: 200 with a body, or 304), and the tries it took."""

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


class Fetcher:
    """One keep-alive client for a run's feed and post requests."""

    def __init__(self, policy: HttpPolicy, *, accept: str = ACCEPT_FEED) -> None:
        self.policy = policy
        self.accept = accept
        self.client: httpx.AsyncClient | None = None
        self.slots = asyncio.Semaphore(policy.concurrency)
        self.limits = Limits(max_bytes=policy.max_bytes, max_redirects=policy.max_redirects,
                             total_timeout=policy.total_timeout)
        self.retry = RetryPolicy(retries=policy.retries, backoff=policy.backoff, backoff_max=policy.backoff_max,
                                 retry_after_max=policy.retry_after_max)

    async def __aenter__(self) -> "Fetcher":
        p = self.policy
        self.client = new_client(connect_timeout=p.connect_timeout, read_timeout=p.read_timeout,
                                 total_timeout=p.total_timeout, user_agent=p.user_agent, accept=self.accept,
                                 block_private=p.block_private, allow_hosts=p.allow_hosts)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET `url` (conditionally when validators are given), retrying what is worth retrying."""
        assert self.client is not None
        client = self.client

        async def attempt():  # noqa: ANN202
            async with self.slots:
                return await get(client, url, self.limits, etag=etag, last_modified=last_modified)

        try:
            body, tries = await with_retries(attempt, self.retry)
        except HttpFailure as failure:
            raise FetchFailed(_reason(failure), failure.status) from None
        return Fetched(url=url, final_url=body.final_url, status=body.status, content=body.content,
                       content_type=body.content_type, etag=body.etag, last_modified=body.last_modified, tries=tries)


def _reason(failure: HttpFailure) -> str:
    """The one-line reason; a refused address says how many redirects led there."""
    if isinstance(failure, BlockedFailure) and failure.redirects:
        return f"{failure.message} after {failure.redirects} redirect{'s' if failure.redirects != 1 else ''}"
    return failure.message
