"""Download images concurrently, politely and safely, and hand back one result per URL.

One `httpx.AsyncClient` (keep-alive pool) serves every request. A request holds a slot of its host
(`per_host`) and a global slot (`concurrency`) only while it is on the wire: backoff sleeps and decoding
hold none. The request itself (redirects counted and checked for loops and scheme, the SSRF guard on every
hop, conditional GET, the size cap, retries with backoff, typed failures) is the shared client in
`newsetl.http.request`. Decoding, hashing and writing (`newsetl.images.keep`) run in verifier processes for a
run of many jobs (`newsetl.images.verify_pool`: the event loop keeps its core and its GIL), otherwise on a
small thread pool.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sized
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable

import httpx

from newsetl.config import ImagesConfig
from newsetl.http.client import guarded_transport
from newsetl.http.errors import BlockedFailure, HttpFailure
from newsetl.http.request import Body, Limits, RetryPolicy, get, new_client, with_retries
from newsetl.images.keep import KeepRules, Rejected, StoredImage, Thumbnail, keep
from newsetl.images.store import ImageStore
from newsetl.images.urls import decode_data_uri
from newsetl.images.verify_pool import VerifierGone, VerifyPool, default_processes

__all__ = ["FetchJob", "FetchResult", "ImageFetcher", "StoredImage", "Thumbnail"]

SKIPPED_REASONS = frozenset({"blocked", "unsupported_scheme"})  # refused by policy, not a fault of the server
ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif,image/*;q=0.8,*/*;q=0.5"
# A run with at least this many jobs verifies in processes; fewer are not worth starting one (~0.2 s of CPU).
PROCESS_MIN_JOBS = 200


@dataclass(slots=True)
class FetchJob:
    """One URL to fetch: an http(s) URL, or a data: URI to decode."""

    url: str                        # the key in image_fetches
    source: str                     # what to fetch: the URL itself, or the data: URI text
    host: str
    kind: str = "http"              # http | data | local (a file of a Hexo site: `source` is its path)
    etag: str | None = None         # from the last successful fetch, for revalidation
    last_modified: str | None = None
    conditional: bool = False       # send If-None-Match / If-Modified-Since


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


class _Final(Exception):
    def __init__(self, status: str, reason: str, error: str, http_status: int | None = None):
        super().__init__(error)
        self.status, self.reason, self.error, self.http_status = status, reason, error, http_status


class ImageFetcher:
    """Fetch, verify and store images. Use as `async with ImageFetcher(cfg, store) as f: await f.run(jobs)`."""

    def __init__(
        self,
        cfg: ImagesConfig,
        store: ImageStore,
        *,
        workers: int | None = None,
        processes: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`processes`: verifier processes for `run` (None: `default_processes()` when the run has at least
        PROCESS_MIN_JOBS jobs and the machine more than one core; 0: verify on threads)."""
        self.cfg = cfg
        self.store = store
        self._rules = KeepRules.of(cfg)
        self._processes = processes
        self._pool: VerifyPool | None = None
        self._limits = Limits(max_bytes=cfg.max_bytes, max_redirects=cfg.max_redirects,
                              total_timeout=cfg.total_timeout)
        self._retry = RetryPolicy(retries=cfg.retries, backoff=cfg.backoff, backoff_max=cfg.backoff_max,
                                  retry_after_max=cfg.retry_after_max)
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
        self.client = new_client(
            connect_timeout=cfg.connect_timeout, read_timeout=cfg.read_timeout, total_timeout=cfg.total_timeout,
            user_agent=cfg.user_agent, accept=ACCEPT, transport=self._transport or self._make_transport(),
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
        processes = self._processes
        if processes is None:
            many = isinstance(jobs, Sized) and len(jobs) >= PROCESS_MIN_JOBS
            processes = default_processes() if many and (os.cpu_count() or 1) > 1 else 0
        if processes > 0 and self._pool is None:
            self._pool = VerifyPool(self._rules, self.store.root, fsync=self.store.fsync, processes=processes)
            try:
                await self._pool.start()
            except OSError:  # no process could be started: verify on threads
                await self._pool.close()
                self._pool = None
        try:
            await self._run(jobs, on_result)
        finally:
            if self._pool is not None:
                await self._pool.close()
                self._pool = None

    async def _run(self, jobs: Iterable[FetchJob], on_result: Callable[[FetchResult], object]) -> None:
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
            elif job.kind == "local":
                result = await self._from_local(job)
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

    async def _from_local(self, job: FetchJob) -> FetchResult:
        """A file of a Hexo site on disk (`local:` keys): no HTTP, the same verify-and-store path.

        `job.source` is the file, already checked to lie inside its source's folder (newsetl/images/plan.py);
        its size and mtime are the etag, so an unchanged file is `revalidated` and a changed one stored anew.
        """
        if not job.source:
            raise _Final("failed", "outside_source", "local image path is not inside its source's folder")
        loop = asyncio.get_running_loop()
        try:
            stat = await loop.run_in_executor(self._executor, os.stat, job.source)
        except OSError:
            raise _Final("failed", "missing", f"no such file: {job.url}") from None
        etag = f"{stat.st_size}-{stat.st_mtime_ns}"
        if job.conditional and job.etag == etag:
            return FetchResult(url=job.url, status="ok", outcome="revalidated", etag=etag)
        if stat.st_size > self.cfg.max_bytes:
            raise _Final("failed", "too_large", f"{stat.st_size} bytes exceeds max_bytes {self.cfg.max_bytes}")
        with open(job.source, "rb") as handle:
            data = await loop.run_in_executor(self._executor, handle.read)
        image = await self._store(data)
        return FetchResult(url=job.url, status="ok", outcome="fetched", image=image, etag=etag)

    async def _from_http(self, job: FetchJob) -> FetchResult:
        host_slots = self._host_slots.get(job.host)
        if host_slots is None:
            host_slots = self._host_slots[job.host] = asyncio.Semaphore(self.cfg.per_host)
        assert self._slots is not None and self.client is not None
        client, slots = self.client, self._slots
        validators = (job.etag, job.last_modified) if job.conditional else (None, None)

        async def attempt() -> Body:  # slots are held on the wire only, not during backoff sleeps
            async with host_slots, slots:
                return await get(client, job.source, self._limits, etag=validators[0], last_modified=validators[1],
                                 accept_not_modified=job.conditional)

        try:
            body, tries = await with_retries(attempt, self._retry)
        except HttpFailure as failure:
            return FetchResult(
                url=job.url, status="skipped" if failure.reason in SKIPPED_REASONS else "failed",
                outcome="skipped" if failure.reason in SKIPPED_REASONS else "failed", http_status=failure.status,
                reason=failure.reason, error=_error(failure), tries=failure.tries,
            )
        result = FetchResult(
            url=job.url, status="ok", outcome="fetched", http_status=body.status,
            etag=body.etag or job.etag, last_modified=body.last_modified or job.last_modified,
            content_type=body.content_type, final_url=body.final_url, redirects=body.redirects, tries=tries,
        )
        if body.content is None:
            result.outcome = "revalidated"
            return result
        try:
            result.image = await self._store(body.content)
        except _Final as final:
            result.status, result.outcome, result.reason, result.error = final.status, final.status, final.reason, final.error
        return result

    # -- verify and store ---------------------------------------------------------------------------------

    async def _store(self, data: bytes) -> StoredImage:
        """`keep` the body: in a verifier process when the run has them, else on a thread."""
        pool = self._pool
        try:
            key = pool.route(data) if pool is not None and pool.alive else None
            if key is not None:
                try:
                    return await pool.keep(data, key)
                except VerifierGone as gone:
                    if gone.started:  # it held this body when it died: fail it (a later run tries again)
                        raise _Final("failed", "internal", str(gone)) from None
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, keep, data, self._rules, self.store)
        except Rejected as rejected:
            raise _Final(rejected.status, rejected.reason, rejected.error) from None


def _error(failure: HttpFailure) -> str:
    """The one-line error; a refused address says how many redirects led there."""
    if isinstance(failure, BlockedFailure) and failure.redirects:
        return f"{failure.message} (after {failure.redirects} redirect{'s' if failure.redirects != 1 else ''})"
    return failure.message
