"""Prepare step: read -> parse -> clean for one batch in a single task run.

The three steps stay separate functions (tasks/read.py, parse.py, clean.py); running them in one task per
batch saves two task runs per batch and, on process or Dask workers, keeps raw text and parsed posts in
the worker instead of shipping them through the flow process. Only the cleaned batch (keys + Arrow
tables) comes back.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsetl.models import Batch, InputRef
from newsetl.rules import SiteRules
from tasks.clean import clean_posts
from tasks.parse import parse_posts
from tasks.read import read_inputs


def prepare_batch(refs: list[InputRef], encodings: list[str], zones: dict[str, ZoneInfo],
                  rules: SiteRules) -> Batch:
    """Read, parse and clean a batch of input files into a batch ready to load."""
    return clean_posts(parse_posts(read_inputs(refs, encodings), zones), rules)


prepare_task = task(prepare_batch, name="read-parse-clean", cache_policy=NO_CACHE, retries=2,
                    retry_delay_seconds=[1, 5], timeout_seconds=600)
