"""One images run on an open warehouse: register, plan, fetch, load (plain Python; the Prefect task wraps it).

`fetch_images` runs the async fetcher over the plan, loading results in bulk every few hundred URLs (one
transaction each), and returns an `ImageSummary` for the run summary and the Prefect artifact.
`run_images` is what the `images` task runs: `fetch_images` with the CLI's progress bar, counts on the run's row.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Callable, Mapping

import duckdb

from newsetl.config import Config
from newsetl.images.fetcher import FetchResult, ImageFetcher
from newsetl.images.plan import plan
from newsetl.images.register import register_images
from newsetl.images.results import load_results, store_prefix
from newsetl.images.store import ImageStore
from newsetl.images.summary import ImageSummary
from newsetl.runtime.progress import report
from newsetl.warehouse.images import link_article_images, record_run_counts

FLUSH_EVERY = 500


def fetch_images(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    run_id: str | None = None,
    retry_failed: bool = False,
    since: datetime | None = None,
    progress: Callable[[int, int], object] | None = None,
    local_roots: Mapping[str, Path] | None = None,
    verify_processes: int | None = None,
) -> ImageSummary:
    """The whole images step on an open warehouse: register, plan, fetch, load. Never raises for an image.

    `local_roots`: source name -> the folder its `local:` image keys are read from (see `plan`).
    `verify_processes`: the fetcher's verifier processes (None: automatic, 0: threads; see `ImageFetcher`).
    """
    started = time.monotonic()
    register_images(con, run_id=run_id)
    work = plan(con, config, retry_failed=retry_failed, since=since, local_roots=local_roots)
    summary = ImageSummary(referenced=work.referenced, reused=work.reused, left_alone=work.left_alone)
    if progress:
        progress(0, len(work.jobs))
    if work.jobs:
        store = ImageStore(config.resolve(config.images.store), fsync=config.images.fsync)
        store.sweep_temporaries()
        prefix = store_prefix(config)
        pending: list[FetchResult] = []
        loads: list[asyncio.Future] = []
        # Loads run on one thread of their own (the connection is used by one thread at a time), so the
        # event loop keeps downloading while a batch is written.
        loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsetl-image-load")

        def load(batch: list[FetchResult]) -> None:
            load_results(con, batch, work.previous, prefix=prefix, run_id=run_id)

        def on_result(result: FetchResult) -> None:
            was_ok = work.previous.get(result.url, {}).get("status") == "ok"
            if result.outcome == "fetched":
                summary.fetched += 1
                if result.image is not None:
                    summary.bytes_downloaded += result.image.bytes
                    summary.new_files += result.image.new_file
            elif result.outcome == "revalidated":
                summary.revalidated += 1
            elif result.outcome == "skipped":
                summary.skipped += 1
                summary.reasons[result.reason or "unknown"] += 1
            else:
                summary.failed += 1
                summary.reasons[(result.reason or "unknown") + (" (revalidation)" if was_ok else "")] += 1
            pending.append(result)
            if len(pending) >= FLUSH_EVERY:
                loads.append(asyncio.get_running_loop().run_in_executor(loader, load, pending[:]))
                pending.clear()
            if progress:
                progress(1, len(work.jobs))

        async def go() -> None:
            try:
                async with ImageFetcher(config.images, store, processes=verify_processes) as fetcher:
                    await fetcher.run(work.jobs, on_result)
            finally:
                await asyncio.gather(*loads)

        try:
            asyncio.run(go())
        finally:
            loader.shutdown(wait=True)
            load(pending)
        link_article_images(con)
    summary.seconds = time.monotonic() - started
    return summary


def run_images(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    run_id: str | None = None,
    retry_failed: bool = False,
    since: datetime | None = None,
    local_roots: Mapping[str, Path] | None = None,
) -> ImageSummary:
    """The whole images step on the flow's warehouse connection, progress to the CLI's bar, counts on the run."""
    summary = fetch_images(con, config, run_id=run_id, retry_failed=retry_failed, since=since,
                           progress=_Progress("images"), local_roots=local_roots)
    if run_id is not None:
        record_run_counts(con, run_id, **summary.counts())
    return summary


class _Progress:
    """Feeds `newsetl.runtime.progress.report` (the CLI's progress bar) from `fetch_images`' callback."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.done = 0

    def __call__(self, step: int, total: int) -> None:
        self.done += step
        report(self.stage, self.done, total)
