"""Download images concurrently, politely and safely, and hand back one result per URL.

One `httpx.AsyncClient` (keep-alive pool) serves every request. A request holds a slot of its host
(`per_host`) and a global slot (`concurrency`) only while it is on the wire: backoff sleeps and decoding
hold none. Redirects are followed by hand so that each hop is counted, checked for loops and for its
scheme; the connection layer (`guard.GuardedBackend`) refuses private and reserved addresses on every
hop. Decoding, hashing and writing run on a small thread pool (Pillow and hashlib release the GIL).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from newsetl.config import ImagesConfig
from newsetl.http.guard import BlockedAddress
from newsetl.images.store import ImageStore
from newsetl.images.urls import FETCHABLE_SCHEMES, decode_data_uri
from newsetl.images.verify import NotAnImage, inspect, thumbnail
from newsetl.http.client import guarded_transport, parse_retry_after, retry_delay

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif,image/*;q=0.8,*/*;q=0.5"


@dataclass(slots=True)
class FetchJob:
    """One URL to fetch: an http(s) URL, or a data: URI to decode."""

    url: str                        # the key in image_fetches
    source: str                     # what to fetch: the URL itself, or the data: URI text
    host: str
    kind: str = "http"              # http | data
    etag: str | None = None         # from the last successful fetch, for revalidation
    last_modified: str | None = None
    conditional: bool = False       # send If-None-Match / If-Modified-Since


@dataclass(slots=True)
class Thumbnail:
    name: str
    width: int
    height: int
    bytes: int
    path: str                       # store-relative


@dataclass(slots=True)
class StoredImage:
    sha256: str
    format: str
    mime_type: str
    width: int
    height: int
    mode: str
    frames: int
    bytes: int
    path: str                       # store-relative
    new_file: bool
    thumbnails: list[Thumbnail] = field(default_factory=list)


@dataclass(slots=True)
class FetchResult:
    url: str
    status: str                     # ok | failed | skipped
    outcome: str                    # fetched | revalidated | failed | skipped
    http_status: int | None = None
    reason: str | None = None       # short category: http_404, timeout, truncated, not_image, blocked ...
    error: str | None = None        # one line for people
    image: StoredImage | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    final_url: str | None = None
    redirects: int = 0
    tries: int = 0                  # HTTP tries in this run (retries included)
    elapsed_ms: int = 0


class _Retryable(Exception):
    def __init__(self, reason: str, error: str, http_status: int | None = None, retry_after: float | None = None):
        super().__init__(error)
        self.reason, self.error, self.http_status, self.retry_after = reason, error, http_status, retry_after


class _Final(Exception):
    def __init__(self, status: str, reason: str, error: str, http_status: int | None = None):
        super().__init__(error)
        self.status, self.reason, self.error, self.http_status = status, reason, error, http_status


@dataclass(slots=True)
class _Body:
    data: bytes | None              # None: 304 Not Modified
    http_status: int
    etag: str | None
    last_modified: str | None
    content_type: str | None
    final_url: str
    redirects: int


def _drop_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path or "/", parts.query, ""))


class ImageFetcher:
    """Fetch, verify and store images. Use as `async with ImageFetcher(cfg, store) as f: await f.run(jobs)`."""

    def __init__(
        self,
        cfg: ImagesConfig,
        store: ImageStore,
        *,
        workers: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self._transport = transport
        # Decoding is CPU (GIL released), fsync is waiting on the disk: a few threads per core keep both busy.
        self._workers = workers or max(2, os.cpu_count() or 2)
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._slots: asyncio.Semaphore | None = None
        self.client: httpx.AsyncClient | None = None
        self._executor: ThreadPoolExecutor | None = None

    # -- set-up -------------------------------------------------------------------------------------------

    def _make_transport(self) -> httpx.AsyncBaseTransport:
        cfg = self.cfg
        return guarded_transport(
            block_private=cfg.block_private, allow_hosts=cfg.allow_hosts, max_connections=cfg.concurrency,
            http2=cfg.http2, lifo_pool=True,  # requests in flight are bounded by our semaphores
        )

    async def __aenter__(self) -> "ImageFetcher":
        cfg = self.cfg
        timeout = httpx.Timeout(
            connect=cfg.connect_timeout, read=cfg.read_timeout, write=cfg.read_timeout, pool=cfg.total_timeout
        )
        self.client = httpx.AsyncClient(
            transport=self._transport or self._make_transport(),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": cfg.user_agent, "Accept": ACCEPT},
        )
        self._slots = asyncio.Semaphore(cfg.concurrency)
        self._executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="newsetl-image")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    # -- many ---------------------------------------------------------------------------------------------

    async def run(self, jobs: Iterable[FetchJob], on_result: Callable[[FetchResult], object]) -> None:
        """Fetch every job, at most `concurrency` on the wire, calling `on_result` as each one ends."""
        window = asyncio.Semaphore(self.cfg.concurrency + 2 * self._workers)  # bounds bodies held in memory
        running: set[asyncio.Task] = set()

        def done(task: asyncio.Task) -> None:
            running.discard(task)
            window.release()
            if not task.cancelled():
                on_result(task.result())

        for job in jobs:
            await window.acquire()
            task = asyncio.create_task(self.fetch(job))
            running.add(task)
            task.add_done_callback(done)
        while running:
            await asyncio.wait(set(running))

    # -- one ----------------------------------------------------------------------------------------------

    async def fetch(self, job: FetchJob) -> FetchResult:
        """Fetch, verify and store one image. Never raises for a problem with the image or the network."""
        started = time.monotonic()
        try:
            if job.kind == "data":
                result = await self._from_data(job)
            else:
                result = await self._from_http(job)
        except _Final as final:
            result = FetchResult(
                url=job.url, status=final.status, outcome=final.status, http_status=final.http_status,
                reason=final.reason, error=final.error,
            )
        except Exception as exc:  # a bug or an unexpected library error must not end the run
            result = FetchResult(
                url=job.url, status="failed", outcome="failed", reason="internal", error=f"{type(exc).__name__}: {exc}"
            )
        result.elapsed_ms = int((time.monotonic() - started) * 1000)
        return result

    async def _from_data(self, job: FetchJob) -> FetchResult:
        try:
            data = decode_data_uri(job.source)
        except ValueError as exc:
            raise _Final("failed", "bad_data_uri", str(exc)) from None
        if len(data) > self.cfg.max_bytes:
            raise _Final("failed", "too_large", f"data: URI payload exceeds max_bytes {self.cfg.max_bytes}")
        image = await self._store(data)
        return FetchResult(url=job.url, status="ok", outcome="fetched", image=image)

    async def _from_http(self, job: FetchJob) -> FetchResult:
        cfg = self.cfg
        host_slots = self._host_slots.get(job.host)
        if host_slots is None:
            host_slots = self._host_slots[job.host] = asyncio.Semaphore(cfg.per_host)
        assert self._slots is not None
        tries = 0
        while True:
            tries += 1
            try:
                async with host_slots, self._slots:
                    try:
                        async with asyncio.timeout(cfg.total_timeout):
                            body = await self._attempt(job)
                    except TimeoutError:
                        raise _Retryable("timeout", f"no complete response within {cfg.total_timeout:g}s") from None
                break
            except _Retryable as retry:
                delay = self._delay(tries, retry.retry_after)
                if tries > cfg.retries or delay is None:
                    error = retry.error
                    if tries > 1:
                        error += f" (after {tries} tries)"
                    if delay is None:
                        error += f"; Retry-After {retry.retry_after:g}s exceeds retry_after_max"
                    return FetchResult(
                        url=job.url, status="failed", outcome="failed", http_status=retry.http_status,
                        reason=retry.reason, error=error, tries=tries,
                    )
                await asyncio.sleep(delay)
            except _Final as final:
                return FetchResult(
                    url=job.url, status=final.status, outcome=final.status, http_status=final.http_status,
                    reason=final.reason, error=final.error, tries=tries,
                )
        result = FetchResult(
            url=job.url, status="ok", outcome="fetched", http_status=body.http_status,
            etag=body.etag or job.etag, last_modified=body.last_modified or job.last_modified,
            content_type=body.content_type, final_url=body.final_url, redirects=body.redirects, tries=tries,
        )
        if body.data is None:
            result.outcome = "revalidated"
            return result
        try:
            result.image = await self._store(body.data)
        except _Final as final:
            result.status, result.outcome, result.reason, result.error = final.status, final.status, final.reason, final.error
        return result

    def _delay(self, tries: int, retry_after: float | None) -> float | None:
        """Seconds before the next try; None when the server asks for longer than we will wait."""
        cfg = self.cfg
        return retry_delay(tries, retry_after, backoff=cfg.backoff, backoff_max=cfg.backoff_max,
                           retry_after_max=cfg.retry_after_max)

    async def _attempt(self, job: FetchJob) -> _Body:
        """One try: the request, its redirects and the body. Raises _Retryable or _Final."""
        assert self.client is not None
        cfg = self.cfg
        url = job.source
        seen = {url}
        redirects = 0
        headers: dict[str, str] = {}
        if job.conditional:
            if job.etag:
                headers["If-None-Match"] = job.etag
            if job.last_modified:
                headers["If-Modified-Since"] = job.last_modified
        while True:
            try:
                response = await self.client.send(self.client.build_request("GET", url, headers=headers), stream=True)
                try:
                    status = response.status_code
                    if status in REDIRECT_CODES:
                        url = self._next_hop(url, response, redirects, seen)
                        redirects += 1
                        continue
                    if status == 304 and job.conditional:
                        return _Body(None, 304, response.headers.get("etag"), response.headers.get("last-modified"),
                                     response.headers.get("content-type"), url, redirects)
                    if status == 429 or status >= 500:
                        retry_after = parse_retry_after(response.headers.get("retry-after"))
                        phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
                        raise _Retryable(f"http_{status}", f"HTTP {status}{phrase}", status, retry_after)
                    if status not in (200, 203):
                        phrase = f" {response.reason_phrase}" if response.reason_phrase else ""
                        raise _Final("failed", f"http_{status}", f"HTTP {status}{phrase}", status)
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > cfg.max_bytes:
                        raise _Final("failed", "too_large",
                                     f"Content-Length {declared} exceeds max_bytes {cfg.max_bytes}", status)
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > cfg.max_bytes:
                            raise _Final("failed", "too_large", f"body exceeds max_bytes {cfg.max_bytes}", status)
                    return _Body(bytes(data), status, response.headers.get("etag"),
                                 response.headers.get("last-modified"), response.headers.get("content-type"),
                                 url, redirects)
                finally:
                    await response.aclose()
            except BlockedAddress as exc:
                where = f" (after {redirects} redirect{'s' if redirects != 1 else ''})" if redirects else ""
                raise _Final("skipped", "blocked", f"{exc}{where}") from None
            except httpx.TimeoutException as exc:
                if str(exc).startswith("DNS lookup"):  # from the guard: "DNS lookup of <host> timed out"
                    raise _Retryable("dns", str(exc)) from None
                kind = {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read", httpx.PoolTimeout: "pool",
                        httpx.WriteTimeout: "write"}.get(type(exc), "")
                raise _Retryable("timeout", f"{kind} timeout".strip()) from None
            except httpx.ConnectError as exc:
                text = str(exc) or "connection failed"
                if "DNS lookup" in text and "failed" in text and "Temporary" not in text:
                    raise _Final("failed", "dns", text) from None
                raise _Retryable("connect", text) from None
            except httpx.RemoteProtocolError as exc:
                text = str(exc) or "protocol error"
                reason = "truncated" if "complete message body" in text or "incomplete" in text else "protocol"
                raise _Retryable(reason, f"{'truncated body: ' if reason == 'truncated' else ''}{text}") from None
            except (httpx.TransportError, httpx.DecodingError) as exc:
                raise _Retryable("network", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None

    def _next_hop(self, url: str, response: httpx.Response, redirects: int, seen: set[str]) -> str:
        status = response.status_code
        location = response.headers.get("location", "").strip()
        if not location:
            raise _Final("failed", f"http_{status}", f"HTTP {status} redirect without a Location", status)
        if redirects >= self.cfg.max_redirects:
            raise _Final("failed", "too_many_redirects", f"more than {self.cfg.max_redirects} redirects", status)
        target = urljoin(url, location)
        scheme = urlsplit(target).scheme.lower()
        if scheme not in FETCHABLE_SCHEMES:
            raise _Final("skipped", "unsupported_scheme", f"redirect to unsupported scheme {scheme!r}", status)
        target = _drop_fragment(target)
        if target in seen:
            raise _Final("failed", "redirect_loop", f"redirect loop after {redirects + 1} redirects", status)
        seen.add(target)
        return target

    # -- verify and store ---------------------------------------------------------------------------------

    async def _store(self, data: bytes) -> StoredImage:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._verify_and_store, data)

    def _verify_and_store(self, data: bytes) -> StoredImage:
        cfg = self.cfg
        try:
            facts = inspect(data, max_pixels=cfg.max_pixels)
        except NotAnImage as exc:
            raise _Final("failed", exc.reason, str(exc)) from None
        if facts.width < cfg.min_width or facts.height < cfg.min_height:
            raise _Final("skipped", "too_small",
                         f"{facts.width}x{facts.height} is below the minimum {cfg.min_width}x{cfg.min_height}")
        sha = hashlib.sha256(data).hexdigest()
        relative = self.store.relative(sha, facts.ext)
        new_file = self.store.put(relative, data)
        image = StoredImage(
            sha256=sha, format=facts.format, mime_type=facts.mime_type, width=facts.width, height=facts.height,
            mode=facts.mode, frames=facts.frames, bytes=len(data), path=relative, new_file=new_file,
        )
        for name, size in cfg.thumbnails.items():
            image.thumbnails.append(self._thumbnail(sha, data, name, size))
        return image

    def _thumbnail(self, sha: str, data: bytes, name: str, size: tuple[int, int]) -> Thumbnail:
        suffix = f".{name}-{size[0]}x{size[1]}"
        for ext in ("jpg", "png"):
            relative = self.store.relative(sha, ext, suffix)
            if self.store.exists(relative):
                from PIL import Image

                with Image.open(self.store.path(relative)) as existing:
                    width, height = existing.size
                return Thumbnail(name, width, height, self.store.path(relative).stat().st_size, relative)
        blob, ext, width, height = thumbnail(data, size)
        relative = self.store.relative(sha, ext, suffix)
        self.store.put(relative, blob)
        return Thumbnail(name, width, height, len(blob), relative)
