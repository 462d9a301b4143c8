"""What a worker runs for one batch: read -> parse -> clean, into a batch ready to load.

Imports neither Prefect nor DuckDB, so a worker process (newsetl/worker_pool.py) starts with a quarter of
the imports and memory of the flow process. The Prefect task that wraps it is `newsetl.tasks.posts.prepare_task`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from newsetl.models import Batch
from newsetl.rules import SiteRules
from newsetl.posts.clean import clean_posts
from newsetl.posts.limits import DEFAULT_LIMITS, PostLimits
from newsetl.posts.parse import parse_posts
from newsetl.posts.read import read_inputs


def prepare_batch(inputs: Batch, encodings: list[str], zones: dict[str, ZoneInfo], rules: SiteRules,
                  limits: PostLimits = DEFAULT_LIMITS) -> Batch:
    """Read, parse and clean a Batch of InputRefs into a batch ready to load.

    Each step turns whatever one post raises into a Reject for that post, within `limits` (newsetl/posts/limits.py),
    so the batch always comes back whole: every input is an article, a reject or skipped.
    """
    return clean_posts(parse_posts(read_inputs(inputs.items, encodings, limits), zones, limits), rules, limits)
