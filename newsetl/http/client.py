"""Shared guarded HTTP for everything newsetl fetches from untrusted URLs (images, feeds, post files).

The request itself (redirects, conditional GET, size cap, retries, typed failures) is `newsetl.http.request`;
this module holds the transport it runs on and the retry timing:

- `guarded_transport(...)`: an httpx transport whose connection layer resolves each host, refuses loopback,
  private, link-local and reserved addresses (unless allow-listed) and connects to the checked address,
  so every redirect hop and every new connection is checked (see `newsetl.http.guard`).
- `parse_retry_after(...)`: seconds from a Retry-After header.
- `retry_delay(...)`: seconds before the next try: the server's Retry-After, or jittered exponential backoff.

`guarded_transport(..., lifo_pool=True)` swaps httpcore's connection pool for `LifoPool`, a free list of
keep-alive HTTP/1.1 connections per origin. httpcore's pool rescans every connection for every queued
request whenever a request starts or ends (with a readiness syscall per idle connection), which costs
more CPU than the downloads themselves once ~50-100 requests are in flight. `LifoPool` does O(1) work
per request; it leaves the bound on connections to the caller, so use it only where requests in flight
are already bounded (the image fetcher's global and per-host semaphores).
"""

from __future__ import annotations

import email.utils
import random
import ssl
from collections import defaultdict
from datetime import datetime, timezone
from typing import AsyncIterator, Iterable

import httpcore
import httpx

from newsetl.http.guard import AddressPolicy, BlockedAddress, GuardedBackend

__all__ = ["AddressPolicy", "BlockedAddress", "GuardedBackend", "guarded_transport", "parse_retry_after",
           "retry_delay"]


def guarded_transport(
    *,
    block_private: bool = True,
    allow_hosts: Iterable[str] = (),
    max_connections: int = 100,
    http2: bool = False,
    keepalive_expiry: float = 30.0,
    lifo_pool: bool = False,
) -> httpx.AsyncHTTPTransport:
    """An `httpx.AsyncHTTPTransport` (no proxies from the environment) with the address guard installed."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=keepalive_expiry
    )
    transport = httpx.AsyncHTTPTransport(limits=limits, http2=http2, retries=0, trust_env=False)
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend") or not hasattr(pool, "_ssl_context"):
        raise RuntimeError("cannot install the address guard on this httpx version")  # pragma: no cover
    backend = GuardedBackend(AddressPolicy(block_private, allow_hosts))
    if lifo_pool and not http2:
        transport._pool = LifoPool(ssl_context=pool._ssl_context, network_backend=backend,
                                   keepalive_expiry=keepalive_expiry)
    else:
        pool._network_backend = backend
    return transport


class LifoPool:
    """Keep-alive HTTP/1.1 connections, a LIFO free list per origin; a request takes one or opens one.

    No limit of its own: the caller bounds how many requests are in flight (and so how many connections
    exist). A connection goes back on its list when its response is closed fully read, else it is closed.
    Implements httpcore's request interface, so it sits where httpx's transport keeps its pool.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext, network_backend: httpcore.AsyncNetworkBackend,
                 keepalive_expiry: float = 30.0) -> None:
        self._ssl_context = ssl_context
        self._backend = network_backend
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[tuple, list[httpcore.AsyncHTTPConnection]] = defaultdict(list)  # (scheme, host, port)
        self._busy: set[httpcore.AsyncHTTPConnection] = set()

    async def _checkout(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        idle = self._idle.get(_key(origin))
        while idle:
            connection = idle.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            await connection.aclose()  # the server hung up, or keep-alive ran out
        return httpcore.AsyncHTTPConnection(
            origin=origin, ssl_context=self._ssl_context, keepalive_expiry=self._keepalive_expiry,
            http1=True, http2=False, network_backend=self._backend,
        )

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        while True:
            connection = await self._checkout(request.url.origin)
            self._busy.add(connection)
            try:
                response = await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:  # lost a race with the connection closing: next one
                self._busy.discard(connection)
                await connection.aclose()
                continue
            except BaseException:
                self._busy.discard(connection)
                await connection.aclose()
                raise
            return httpcore.Response(
                status=response.status, headers=response.headers,
                content=_ReleasingStream(response.stream, connection, self), extensions=response.extensions,
            )

    async def _release(self, connection: httpcore.AsyncHTTPConnection) -> None:
        self._busy.discard(connection)
        if connection.is_idle():
            self._idle[_key(connection._origin)].append(connection)
        else:
            await connection.aclose()

    async def aclose(self) -> None:
        connections = [c for idle in self._idle.values() for c in idle] + list(self._busy)
        self._idle.clear()
        self._busy.clear()
        for connection in connections:
            await connection.aclose()

    async def __aenter__(self) -> "LifoPool":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _key(origin: httpcore.Origin) -> tuple[bytes, bytes, int]:
    return origin.scheme, origin.host, origin.port


class _ReleasingStream:
    """A response body that hands its connection back to the pool when closed."""

    def __init__(self, stream, connection: httpcore.AsyncHTTPConnection, pool: LifoPool) -> None:
        self._stream = stream
        self._connection = connection
        self._pool = pool
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            if hasattr(self._stream, "aclose"):
                await self._stream.aclose()
        finally:
            await self._pool._release(self._connection)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def retry_delay(tries: int, retry_after: float | None, *, backoff: float, backoff_max: float,
                retry_after_max: float) -> float | None:
    """Seconds before try `tries + 1`; None when the server asks for longer than `retry_after_max`.

    Without a Retry-After: `backoff` doubled per try, capped at `backoff_max`, jittered by 0.5-1.5x.
    """
    if retry_after is not None:
        return None if retry_after > retry_after_max else retry_after
    return min(backoff_max, min(backoff_max, backoff * 2 ** (tries - 1)) * random.uniform(0.5, 1.5))
