"""The remote sources' fetch as a Prefect task (newsetl/feeds/collect.py); flows/remote.py orchestrates it."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsetl.feeds.collect import collect_remote

# One task run fetches every URL of every feed and post_urls source (one event loop, bounded concurrency).
fetch_remote_task = task(collect_remote, name="fetch-remote", cache_policy=NO_CACHE, retries=2,
                         retry_delay_seconds=[10, 60], retry_jitter_factor=0.5, timeout_seconds=1800)
