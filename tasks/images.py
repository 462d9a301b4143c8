"""The images step: register the URLs articles reference, fetch what needs fetching, load what was learned.

Warehouse side of `newsetl.images`:

- `register_images(con)` gives every new `article_images` row its fetch key (`fetch_url`), adds unseen
  URLs to `image_fetches` as `pending` (or `skipped` when they can never be fetched) and links rows to
  stored images (`article_images.sha256`). No network; the ingest flow calls it even with images off.
- `plan(...)` decides per URL: fetch (new, or failed fewer than `max_attempts` runs), revalidate (stored
  longer ago than `revalidate_after`), reuse (stored and fresh), or leave alone (given up, or skipped).
- `fetch_images(...)` runs the async fetcher over the plan, loading results in bulk every few hundred
  URLs (one transaction each), and returns an `ImageSummary` for the run summary and the Prefect artifact.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from newsetl.config import Config, parse_duration
from newsetl.errors import ConfigError
from newsetl.images.fetcher import FetchJob, FetchResult, ImageFetcher
from newsetl.images.store import ImageStore
from newsetl.images.urls import normalize
from newsetl.warehouse.db import staged, transaction

FLUSH_EVERY = 500

_FETCH_COLUMNS = [
    ("url", pa.string()), ("host", pa.string()), ("status", pa.string()), ("http_status", pa.int32()),
    ("reason", pa.string()), ("error", pa.string()), ("sha256", pa.string()), ("attempts", pa.int32()),
    ("tries", pa.int32()), ("etag", pa.string()), ("last_modified", pa.string()), ("content_type", pa.string()),
    ("final_url", pa.string()), ("redirects", pa.int32()), ("elapsed_ms", pa.int32()),
    ("fetched_at", pa.timestamp("us", tz="UTC")), ("checked_at", pa.timestamp("us", tz="UTC")),
    ("first_seen_at", pa.timestamp("us", tz="UTC")), ("run_id", pa.string()),
]
FETCH_SCHEMA = pa.schema(_FETCH_COLUMNS)
IMAGE_SCHEMA = pa.schema([
    ("sha256", pa.string()), ("format", pa.string()), ("mime_type", pa.string()), ("width", pa.int32()),
    ("height", pa.int32()), ("mode", pa.string()), ("frames", pa.int32()), ("bytes", pa.int64()),
    ("path", pa.string()), ("first_seen_at", pa.timestamp("us", tz="UTC")),
])
THUMB_SCHEMA = pa.schema([
    ("sha256", pa.string()), ("name", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
    ("bytes", pa.int64()), ("path", pa.string()),
])
LINK_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("url", pa.string()), ("fetch_url", pa.string()), ("host", pa.string()),
    ("status", pa.string()), ("reason", pa.string()), ("error", pa.string()),
])


# -- summary ---------------------------------------------------------------------------------------------

@dataclass
class ImageSummary:
    """What one images step did; counts are distinct URLs."""

    referenced: int = 0      # URLs the step looked at
    fetched: int = 0         # downloaded and stored (or already in the store: same bytes)
    reused: int = 0          # stored and fresh: no request made
    revalidated: int = 0     # asked the server, 304: still good
    failed: int = 0          # failed in this run
    skipped: int = 0         # refused by policy in this run (blocked address, scheme, too small)
    left_alone: int = 0      # failed max_attempts runs (or skipped) before: not tried (see --retry-failed)
    new_files: int = 0       # images added to the store
    bytes_downloaded: int = 0
    seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)

    def top_reasons(self, n: int = 5) -> list[tuple[str, int]]:
        return self.reasons.most_common(n)

    def line(self) -> str:
        text = (
            f"images: {self.fetched} fetched, {self.reused} reused, {self.revalidated} revalidated, "
            f"{self.failed} failed, {self.skipped} skipped"
        )
        if self.left_alone:
            text += f", {self.left_alone} left alone"
        if self.reasons:
            text += " (top reasons: " + ", ".join(f"{r} {n}" for r, n in self.top_reasons(3)) + ")"
        return text

    def markdown(self) -> str:
        rows = [
            ("fetched", self.fetched), ("reused", self.reused), ("revalidated", self.revalidated),
            ("failed", self.failed), ("skipped", self.skipped), ("left alone", self.left_alone),
            ("new files in the store", self.new_files), ("bytes downloaded", self.bytes_downloaded),
        ]
        lines = ["# Images", "", "| outcome | URLs |", "| --- | ---: |"]
        lines += [f"| {name} | {count} |" for name, count in rows]
        if self.reasons:
            lines += ["", "## Top failure reasons", "", "| reason | URLs |", "| --- | ---: |"]
            lines += [f"| {reason} | {count} |" for reason, count in self.top_reasons(10)]
        lines += ["", f"{self.referenced} URLs considered in {self.seconds:.1f} s."]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "referenced": self.referenced, "fetched": self.fetched, "reused": self.reused,
            "revalidated": self.revalidated, "failed": self.failed, "skipped": self.skipped,
            "left_alone": self.left_alone, "new_files": self.new_files,
            "bytes_downloaded": self.bytes_downloaded, "seconds": round(self.seconds, 3),
            "top_reasons": self.top_reasons(),
        }


# -- register ---------------------------------------------------------------------------------------------

def register_images(con: duckdb.DuckDBPyConnection, *, run_id: str | None = None, now: datetime | None = None) -> int:
    """Key new `article_images` rows, record unseen URLs as pending, link rows to stored images.

    Returns how many new URLs were recorded. No network access.
    """
    now = now or datetime.now(timezone.utc)
    rows = con.execute(
        "SELECT DISTINCT ai.article_id, ai.url, a.url FROM article_images ai "
        "LEFT JOIN articles a USING (article_id) WHERE ai.fetch_url IS NULL"
    ).fetchall()
    added = 0
    if rows:
        cache: dict[tuple[str, str | None], object] = {}
        links = []
        for article_id, url, article_url in rows:
            target = cache.get((url, article_url))
            if target is None:
                target = cache[(url, article_url)] = normalize(url, article_url)
            invalid = target.kind == "invalid"
            links.append({
                "article_id": article_id, "url": url, "fetch_url": target.key, "host": target.host,
                "status": "skipped" if invalid else "pending",
                "reason": ("unsupported_scheme" if "scheme" in (target.error or "") else "invalid_url") if invalid else None,
                "error": target.error,
            })
        link_rows = pa.Table.from_pylist(links, schema=LINK_SCHEMA)
        with transaction(con), staged(con, "_image_links", link_rows):
            before = con.execute("SELECT count(*) FROM image_fetches").fetchone()[0]
            con.execute(
                "INSERT INTO image_fetches (url, host, status, reason, error, attempts, checked_at, first_seen_at, run_id) "
                "SELECT fetch_url, any_value(host), any_value(status), any_value(reason), any_value(error), 0, "
                "CASE WHEN any_value(status) = 'skipped' THEN ?::TIMESTAMPTZ END, ?::TIMESTAMPTZ, ? "
                "FROM _image_links GROUP BY fetch_url ON CONFLICT (url) DO NOTHING",
                [now, now, run_id],
            )
            added = con.execute("SELECT count(*) FROM image_fetches").fetchone()[0] - before
            con.execute(
                "UPDATE article_images SET fetch_url = l.fetch_url FROM _image_links l "
                "WHERE article_images.article_id = l.article_id AND article_images.url = l.url "
                "AND article_images.fetch_url IS NULL"
            )
            link_article_images(con)
    else:
        link_article_images(con)
    return added


def link_article_images(con: duckdb.DuckDBPyConnection) -> None:
    """Point `article_images.sha256` at the stored image of its URL (null while there is none)."""
    con.execute(
        "UPDATE article_images SET sha256 = f.sha256 FROM image_fetches f "
        "WHERE article_images.fetch_url = f.url AND article_images.sha256 IS DISTINCT FROM f.sha256"
    )


# -- plan -------------------------------------------------------------------------------------------------

@dataclass
class Plan:
    jobs: list[FetchJob]
    previous: dict[str, dict]     # url -> its image_fetches row before this run
    reused: int
    left_alone: int
    referenced: int


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """`--since`: an ISO date or date-time (UTC when naive), or an age such as 7d or 12h."""
    if value is None or value == "":
        return None
    now = now or datetime.now(timezone.utc)
    try:
        return now - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"--since: expected a date (2024-05-01), a date-time or an age (7d, 12h), got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def plan(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    retry_failed: bool = False,
    since: datetime | None = None,
    now: datetime | None = None,
) -> Plan:
    """Which referenced URLs to fetch, revalidate, reuse or leave alone in this run."""
    cfg = config.images
    now = now or datetime.now(timezone.utc)
    conditions = ["ai.fetch_url IS NOT NULL"]
    params: list = []
    if cfg.skip_roles:
        conditions.append("NOT list_contains(?, ai.role)")
        params.append(cfg.skip_roles)
    if since is not None:
        conditions.append("greatest(a.updated_at, a.first_seen_at) >= ?")
        params.append(since)
    rows = con.execute(
        f"""
        SELECT f.url, min(ai.url) AS raw, f.host, f.status, f.attempts, f.etag, f.last_modified, f.checked_at,
               f.fetched_at, f.sha256, f.first_seen_at, i.path
        FROM article_images ai
        JOIN articles a USING (article_id)
        JOIN image_fetches f ON f.url = ai.fetch_url
        LEFT JOIN images i ON i.sha256 = f.sha256
        WHERE {' AND '.join(conditions)}
        GROUP BY ALL
        ORDER BY f.url
        """,
        params,
    ).fetchall()
    names = ["url", "raw", "host", "status", "attempts", "etag", "last_modified", "checked_at", "fetched_at",
             "sha256", "first_seen_at", "path"]
    stale_before = now - timedelta(seconds=cfg.revalidate_after)
    on_disk: dict[str, bool] = {}
    jobs: list[FetchJob] = []
    previous: dict[str, dict] = {}
    reused = left_alone = 0
    for values in rows:
        row = dict(zip(names, values))
        url, status = row["url"], row["status"]
        kind = "data" if url.startswith("data:") else "http"
        job = FetchJob(url=url, source=row["raw"] if kind == "data" else url, host=row["host"] or "", kind=kind)
        if status == "ok":
            path = row["path"]
            if path is not None and path not in on_disk:  # one stat per stored file, however many URLs
                on_disk[path] = config.resolve(Path(path)).is_file()
            if not on_disk.get(path, False):
                row["missing_file"] = True  # gone from the store: fetch it again, unconditionally
            elif kind == "data" or (row["checked_at"] is not None and row["checked_at"] >= stale_before):
                reused += 1
                continue
            else:
                job.conditional = bool(row["etag"] or row["last_modified"])
                job.etag, job.last_modified = row["etag"], row["last_modified"]
        elif status == "failed":
            if row["attempts"] >= cfg.max_attempts and not retry_failed:
                left_alone += 1
                continue
        elif status == "skipped":
            if not retry_failed:
                left_alone += 1
                continue
            if kind != "data" and not url.lower().startswith(("http://", "https://")):
                left_alone += 1  # not fetchable whatever the policy: unsupported scheme, no host
                continue
        jobs.append(job)
        previous[url] = row
    return Plan(jobs=jobs, previous=previous, reused=reused, left_alone=left_alone, referenced=len(rows))


# -- load -------------------------------------------------------------------------------------------------

def store_prefix(config: Config) -> str:
    """How `images.path` starts: the store root, relative to the config folder when it lies inside it."""
    root = config.resolve(config.images.store)
    base = config.base_dir.resolve()
    try:
        return root.relative_to(base).as_posix()
    except ValueError:
        return root.as_posix()


def _fetch_row(result: FetchResult, prev: dict, now: datetime, run_id: str | None) -> dict:
    was_ok = prev.get("status") == "ok"
    attempts = 0 if was_ok else (prev.get("attempts") or 0)
    row = {
        "url": result.url, "host": prev.get("host"), "status": result.status, "http_status": result.http_status,
        "reason": result.reason, "error": result.error, "sha256": None, "attempts": attempts + 1,
        "tries": result.tries, "etag": result.etag, "last_modified": result.last_modified,
        "content_type": result.content_type, "final_url": result.final_url, "redirects": result.redirects,
        "elapsed_ms": result.elapsed_ms, "fetched_at": prev.get("fetched_at"), "checked_at": now,
        "first_seen_at": prev.get("first_seen_at") or now, "run_id": run_id,
    }
    if result.outcome == "fetched":
        row["sha256"] = result.image.sha256 if result.image else None
        row["fetched_at"] = now
    elif result.outcome == "revalidated":
        row["sha256"] = prev.get("sha256")
    elif was_ok and not prev.get("missing_file"):
        # A stored image stays good when its revalidation fails; the next run asks again.
        row.update(
            status="ok", sha256=prev.get("sha256"), attempts=1, checked_at=prev.get("checked_at"),
            etag=prev.get("etag"), last_modified=prev.get("last_modified"),
            error=f"revalidation failed: {result.error}",
        )
    return row


def load_results(
    con: duckdb.DuckDBPyConnection,
    results: list[FetchResult],
    previous: dict[str, dict],
    *,
    prefix: str,
    run_id: str | None,
    now: datetime | None = None,
) -> None:
    """Write a batch of results in one transaction: image_fetches, images, image_thumbnails.

    `article_images.sha256` is linked once at the end of the step (`link_article_images`).
    """
    if not results:
        return
    now = now or datetime.now(timezone.utc)
    fetch_rows = [_fetch_row(r, previous.get(r.url, {}), now, run_id) for r in results]
    images: dict[str, dict] = {}
    thumbs: dict[tuple[str, str], dict] = {}
    for result in results:
        image = result.image
        if image is None or image.sha256 in images:
            continue
        images[image.sha256] = {
            "sha256": image.sha256, "format": image.format, "mime_type": image.mime_type, "width": image.width,
            "height": image.height, "mode": image.mode, "frames": image.frames, "bytes": image.bytes,
            "path": f"{prefix}/{image.path}", "first_seen_at": now,
        }
        for t in image.thumbnails:
            thumbs[(image.sha256, t.name)] = {
                "sha256": image.sha256, "name": t.name, "width": t.width, "height": t.height, "bytes": t.bytes,
                "path": f"{prefix}/{t.path}",
            }
    with transaction(con):
        columns = ", ".join(name for name, _ in _FETCH_COLUMNS)
        with staged(con, "_fetch_rows", pa.Table.from_pylist(fetch_rows, schema=FETCH_SCHEMA)):
            con.execute(f"INSERT OR REPLACE INTO image_fetches ({columns}) SELECT {columns} FROM _fetch_rows")
        if images:
            with staged(con, "_image_rows", pa.Table.from_pylist(list(images.values()), schema=IMAGE_SCHEMA)):
                con.execute(
                    "INSERT INTO images SELECT * FROM _image_rows "
                    "ON CONFLICT (sha256) DO UPDATE SET path = excluded.path"
                )
        if thumbs:
            with staged(con, "_thumb_rows", pa.Table.from_pylist(list(thumbs.values()), schema=THUMB_SCHEMA)):
                con.execute("INSERT OR REPLACE INTO image_thumbnails SELECT * FROM _thumb_rows")


# -- run --------------------------------------------------------------------------------------------------

def fetch_images(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    run_id: str | None = None,
    retry_failed: bool = False,
    since: datetime | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> ImageSummary:
    """The whole images step on an open warehouse: register, plan, fetch, load. Never raises for an image."""
    started = time.monotonic()
    register_images(con, run_id=run_id)
    work = plan(con, config, retry_failed=retry_failed, since=since)
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
                async with ImageFetcher(config.images, store) as fetcher:
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


def record_run_counts(con: duckdb.DuckDBPyConnection, run_id: str, summary: ImageSummary) -> None:
    """Put the image counts on the run's `ingest_runs` row."""
    con.execute(
        "UPDATE ingest_runs SET images_fetched = ?, images_reused = ?, images_revalidated = ?, "
        "images_failed = ?, images_skipped = ? WHERE run_id = ?",
        [summary.fetched, summary.reused, summary.revalidated, summary.failed, summary.skipped, run_id],
    )


def publish_artifact(summary: ImageSummary, *, key: str = "newsetl-images") -> None:
    """The run's image counts and top failure reasons as a Prefect markdown artifact (inside a run only)."""
    from prefect.artifacts import create_markdown_artifact
    from prefect.context import FlowRunContext, TaskRunContext

    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return
    create_markdown_artifact(markdown=summary.markdown(), key=key, description=summary.line())


@task(name="images", cache_policy=NO_CACHE, timeout_seconds=3600)  # HTTP retries with backoff are per request (newsetl/net.py)
def images_task(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    run_id: str | None = None,
    retry_failed: bool = False,
    since: datetime | None = None,
) -> ImageSummary:
    """Prefect task: the whole images step on the flow's warehouse connection, progress to the CLI's bar."""
    summary = fetch_images(
        con, config, run_id=run_id, retry_failed=retry_failed, since=since, progress=_Progress("images")
    )
    if run_id is not None:
        record_run_counts(con, run_id, summary)
    publish_artifact(summary)
    return summary


def images_step(con: duckdb.DuckDBPyConnection, config: Config, summary) -> ImageSummary | None:
    """The ingest flow's call after loading: fetch images (or, with images off, just record their URLs).

    `summary` is the flow's RunSummary: the image counts go into its `extra`, a line for the CLI's summary
    and the stage time. An image failure never fails the run.
    """
    if not config.images.enabled:
        pending = register_images(con, run_id=summary.run_id)
        summary.extra.setdefault("summary_lines", []).append(
            f"images: off ({pending} new URLs recorded as pending; `newsetl images` fetches them)"
        )
        return None
    try:
        result: ImageSummary = images_task(con, config, run_id=summary.run_id)
    except Exception as exc:  # e.g. the task's timeout: the articles are loaded; say so and go on
        summary.add_problem(f"images step stopped: {type(exc).__name__}: {exc}", message=True)
        summary.extra.setdefault("summary_lines", []).append(
            f"images: step stopped ({type(exc).__name__}); `newsetl images` fetches what is left")
        return None
    summary.extra["images"] = result.as_dict()
    summary.stage_seconds["images"] = result.seconds
    summary.extra.setdefault("summary_lines", []).append(result.line())
    return result


class _Progress:
    """Feeds `newsetl.runtime.progress.report` (the CLI's progress bar) from `fetch_images`' callback."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.done = 0

    def __call__(self, step: int, total: int) -> None:
        from newsetl.runtime.progress import report

        self.done += step
        report(self.stage, self.done, total)
