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

import duckdb

from newsetl.config import Config, parse_duration
from newsetl.errors import ConfigError
from newsetl.images.fetcher import FetchJob
from newsetl.warehouse.images import plan_rows


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
    rows = plan_rows(con, skip_roles=config.images.skip_roles, since=since)
    return plan_from_rows(rows, config, retry_failed=retry_failed, now=now)


def plan_from_rows(
    rows: list[dict],
    config: Config,
    *,
    retry_failed: bool = False,
    now: datetime | None = None,
) -> Plan:
    """The decisions of `plan` over `image_fetches` rows (`newsetl.warehouse.images.plan_rows`)."""
    cfg = config.images
    now = now or datetime.now(timezone.utc)
    stale_before = now - timedelta(seconds=cfg.revalidate_after)
    on_disk: dict[str, bool] = {}
    jobs: list[FetchJob] = []
    previous: dict[str, dict] = {}
    reused = left_alone = 0
    for row in rows:
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
