"""What a worker runs for one batch: read -> parse -> clean, into a batch ready to load.

Imports neither Prefect nor DuckDB, so a worker process (newsetl/worker_pool.py) starts with a quarter of
the imports and memory of the flow process. The Prefect task that wraps it is `newsetl.tasks.posts.prepare_task`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from newsetl.models import Batch
from newsetl.rules import SiteRules
from newsetl.posts.clean import clean_posts
from newsetl.posts.parse import parse_posts
from newsetl.posts.read import read_inputs


def prepare_batch(inputs: Batch, encodings: list[str], zones: dict[str, ZoneInfo], rules: SiteRules) -> Batch:
    """Read, parse and clean a Batch of InputRefs into a batch ready to load."""
    return clean_posts(parse_posts(read_inputs(inputs.items, encodings), zones), rules)
