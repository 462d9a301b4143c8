"""Shared guarded HTTP for everything newsetl fetches from untrusted URLs (images, feeds, post files).

- `guarded_transport(...)`: an httpx transport whose connection layer resolves each host, refuses loopback,
  private, link-local and reserved addresses (unless allow-listed) and connects to the checked address,
  so every redirect hop and every new connection is checked (see `newsetl.images.guard`).
- `parse_retry_after(...)`: seconds from a Retry-After header.
"""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone
from typing import Iterable

import httpx

from newsetl.images.guard import AddressPolicy, BlockedAddress, GuardedBackend

__all__ = ["AddressPolicy", "BlockedAddress", "GuardedBackend", "guarded_transport", "parse_retry_after"]


def guarded_transport(
    *,
    block_private: bool = True,
    allow_hosts: Iterable[str] = (),
    max_connections: int = 100,
    http2: bool = False,
    keepalive_expiry: float = 30.0,
) -> httpx.AsyncHTTPTransport:
    """An `httpx.AsyncHTTPTransport` (no proxies from the environment) with the address guard installed."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=keepalive_expiry
    )
    transport = httpx.AsyncHTTPTransport(limits=limits, http2=http2, retries=0, trust_env=False)
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):  # pragma: no cover - guards an httpx upgrade
        raise RuntimeError("cannot install the address guard on this httpx version")
    pool._network_backend = GuardedBackend(AddressPolicy(block_private, allow_hosts))
    return transport


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
