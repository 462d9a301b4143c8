"""Plan an images run: per referenced URL, fetch, revalidate, reuse or leave alone.

- fetch: new, pending, or failed fewer than `images.max_attempts` runs (or its stored file is gone);
- revalidate: stored longer ago than `images.revalidate_after` (a conditional request when it can be);
- reuse: stored and fresh, no request;
- leave alone: given up (failed `max_attempts` runs) or skipped by policy, unless `retry_failed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Mapping

import duckdb

from newsetl.config import Config
from newsetl.durations import parse_moment
from newsetl.errors import ConfigError
from newsetl.images.fetcher import FetchJob
from newsetl.images.urls import LOCAL_SCHEME, resolve_local, split_local_key
from newsetl.warehouse.images import plan_rows


@dataclass
class Plan:
    jobs: list[FetchJob]
    previous: dict[str, dict]     # url -> its image_fetches row before this run
    reused: int
    left_alone: int
    referenced: int


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """`--since` (newsetl/durations.py): an age such as 7d or 12h, an ISO date or date-time (UTC when naive)."""
    if value is None or value == "":
        return None
    try:
        return parse_moment(value, now=now)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None


def plan(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    *,
    retry_failed: bool = False,
    since: datetime | None = None,
    now: datetime | None = None,
    local_roots: Mapping[str, Path] | None = None,
) -> Plan:
    """Which referenced URLs to fetch, revalidate, reuse or leave alone in this run.

    `local_roots`: source name -> the folder its `local:` image keys are relative to (Hexo sites on disk).
    """
    rows = plan_rows(con, skip_roles=config.images.skip_roles, since=since)
    return plan_from_rows(rows, config, retry_failed=retry_failed, now=now, local_roots=local_roots)


def plan_from_rows(
    rows: list[dict],
    config: Config,
    *,
    retry_failed: bool = False,
    now: datetime | None = None,
    local_roots: Mapping[str, Path] | None = None,
) -> Plan:
    """The decisions of `plan` over `image_fetches` rows (`newsetl.warehouse.images.plan_rows`)."""
    cfg = config.images
    now = now or datetime.now(timezone.utc)
    stale_before = now - timedelta(seconds=cfg.revalidate_after)
    on_disk: dict[str, bool] = {}
    store = config.resolve(cfg.store)
    jobs: list[FetchJob] = []
    previous: dict[str, dict] = {}
    reused = left_alone = 0
    local: LocalFiles | None = None
    for row in rows:
        url, status = row["url"], row["status"]
        kind = "data" if url.startswith("data:") else "local" if url.startswith(LOCAL_SCHEME) else "http"
        if kind == "local" and local is None:
            local = LocalFiles(dict(local_roots or {}))
        source = row["raw"] if kind == "data" else local.path(url) if kind == "local" else url
        job = FetchJob(url=url, source=source, host=row["host"] or "", kind=kind)
        if status == "ok":
            path = row["path"]
            if path is not None and path not in on_disk:  # one stat per stored file, however many URLs
                on_disk[path] = (store / path).is_file()  # stored paths are relative to the store
            if not on_disk.get(path, False):
                row["missing_file"] = True  # gone from the store: fetch it again, unconditionally
            elif kind == "data" or (kind == "http" and row["checked_at"] is not None
                                    and row["checked_at"] >= stale_before):  # local files: always re-checked
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


class LocalFiles:
    """`local:` image keys -> files, only inside the folder of the source that named them."""

    def __init__(self, roots: dict[str, Path]) -> None:
        self.roots = roots

    def path(self, key: str) -> str:
        """The file's absolute path, or "" when the source is unknown or the path leaves its folder."""
        parts = split_local_key(key)
        root = self.roots.get(parts[0]) if parts else None
        found = resolve_local(root, parts[1]) if root is not None else None
        return str(found) if found is not None else ""
