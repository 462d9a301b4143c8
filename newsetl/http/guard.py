"""Server-side request forgery guard: image URLs come from untrusted feed content.

The check sits in the connection layer (an httpcore network backend): the host is resolved once, every
address is checked, and the socket is opened to the checked address itself. So a redirect hop, a new
connection or a DNS answer that changes between check and use (rebinding) cannot reach a refused address.

The allow-list (`allow_hosts`) names addresses, networks or host names, each optionally with a port
(`127.0.0.1:8765`): an address that is not public is used only when an entry covers it and the port
connected to. Every spelling of an address (`127.1`, `2130706433`, `0x7f000001`, `[::ffff:127.0.0.1]`,
`localhost`) is checked as the address it resolves to; a host-name entry matches that name only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import select
import socket
from typing import Iterable

import httpcore
from httpcore._backends.auto import AutoBackend

from newsetl.config import AllowEntry, parse_allow_entry

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(Exception):
    """The host resolves to an address that policy refuses."""

    def __init__(self, host: str, address: str, why: str) -> None:
        super().__init__(f"refused address {address} ({why}) for host {host}")
        self.host = host
        self.address = address
        self.why = why


class AddressPolicy:
    """Which addresses may be connected to: public ones, plus the explicit allow-list (address and port)."""

    def __init__(self, block_private: bool = True, allow: Iterable[str] = ()) -> None:
        self.block_private = block_private
        self.entries: list[AllowEntry] = [parse_allow_entry(entry) for entry in allow]

    def _allowed(self, host: str, address: IPAddress, port: int | None) -> tuple[bool, bool]:
        """(allowed, allowed on some other port) for `address` reached as `host`:`port`."""
        name = host.lower().strip("[]").rstrip(".")
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        other_port = False
        for entry in self.entries:
            if entry.name is not None:
                covered = entry.name == name
            else:
                covered = address in entry.network or (mapped is not None and mapped in entry.network)
            if covered and (entry.port is None or entry.port == port):
                return True, False
            other_port = other_port or covered
        return False, other_port

    def refusal(self, host: str, address: IPAddress, port: int | None = None) -> str | None:
        """Why `address` (resolved from `host`, to be connected on `port`) is refused, or None when it may be used."""
        if not self.block_private:
            return None
        allowed, other_port = self._allowed(host, address, port)
        if allowed:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        why = _category(address)
        if why and other_port:
            return f"{why}; allow_hosts does not list port {port}"
        return why


def _category(address: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified or address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not a public address"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks, then connects to the checked address."""

    def __init__(
        self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend | None = None, dns_ttl: float = 60.0
    ) -> None:
        self.policy = policy
        self.inner = inner or AutoBackend()
        self.dns_ttl = dns_ttl
        # host -> (expires, addresses or the error): many URLs on one host make one lookup, not one each
        # (asyncio resolves on a small thread pool, where a queue of lookups would hit their timeouts).
        self._dns: dict[str, tuple[float, list[IPAddress] | Exception]] = {}
        self._lookups: dict[str, asyncio.Future] = {}

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        literal = _literal(host)
        if literal is not None:
            return [literal]
        key = host.lower()  # the addresses do not depend on the port
        loop = asyncio.get_running_loop()
        cached = self._dns.get(key)
        if cached is None or cached[0] < loop.time():
            lookup = self._lookups.get(key)
            if lookup is None:  # the first asker looks it up; the others wait for its answer
                lookup = self._lookups[key] = loop.create_future()
                try:
                    result: list[IPAddress] | Exception = await self._lookup(host, port, timeout)
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                    result = exc
                finally:
                    del self._lookups[key]
                if not isinstance(result, httpcore.ConnectTimeout):  # a timeout is worth asking again
                    self._dns[key] = (loop.time() + self.dns_ttl, result)
                lookup.set_result(result)
            else:
                result = await asyncio.shield(lookup)
        else:
            result = cached[1]
        if isinstance(result, Exception):
            raise type(result)(*result.args)
        return result

    async def _lookup(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"DNS lookup of {host} timed out") from None
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"DNS lookup of {host} failed: {exc.strerror or exc}") from None
        found: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%")[0])
            if address not in found:
                found.append(address)
        if not found:
            raise httpcore.ConnectError(f"DNS lookup of {host} returned no address")
        return found

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        for address in addresses:  # every answer must pass: a mixed answer is a rebinding attempt
            why = self.policy.refusal(host, address, port)
            if why:
                raise BlockedAddress(host, str(address), why)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = await self.inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
                return _Stream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):  # noqa: ANN001
        raise httpcore.ConnectError("unix sockets are not used for images")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _Stream(httpcore.AsyncNetworkStream):
    """The connected stream, with a cheap keep-alive check.

    httpcore asks `get_extra_info("is_readable")` before reusing a pooled connection; anyio answers by
    building every socket attribute, including a getpeername() system call. Keep the raw socket and poll it.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):  # noqa: ANN001
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str):  # noqa: ANN201
        if info == "is_readable" and self._socket is not None:
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


def _readable(sock: socket.socket) -> bool:
    """True when the socket has data or EOF waiting (an idle keep-alive connection the server closed)."""
    if sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
