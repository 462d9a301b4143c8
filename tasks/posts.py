"""Prepare step as Prefect tasks: read -> parse -> clean of one batch as a single task run.

The three steps stay separate functions (tasks/read.py, parse.py, clean.py), chained by
`newsetl.posts.pipeline.prepare_batch`. Running them as one task per batch saves two task runs per batch and, on the
process or Dask runner, keeps raw text and parsed posts in the worker instead of shipping them through the
flow process: only the cleaned batch (keys + Arrow tables) comes back.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsetl.posts.clean import clean_posts
from newsetl.posts.discover import list_sources
from newsetl.posts.pipeline import prepare_batch, prepare_texts

discover_task = task(list_sources, name="discover", cache_policy=NO_CACHE, timeout_seconds=1800)

prepare_task = task(prepare_batch, name="read-parse-clean", cache_policy=NO_CACHE, retries=2,
                    retry_delay_seconds=[1, 5], timeout_seconds=600)

# Parse and clean of posts already read: those deferred until their post_link targets were known.
prepare_texts_task = task(prepare_texts, name="parse-clean (post links)", cache_policy=NO_CACHE, timeout_seconds=600)

# Clean alone, for posts that arrive already parsed (feed items, cached raw posts in backfill).
clean_task = task(clean_posts, name="clean", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5],
                  timeout_seconds=600)
