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
from newsetl.posts.link_targets import DeferredPost
from newsetl.posts.options import PostOptions, as_options
from newsetl.posts.parse import parse_posts
from newsetl.posts.read import read_inputs


def prepare_batch(inputs: Batch, encodings: list[str], zones: dict[str, ZoneInfo], rules: SiteRules,
                  limits: PostLimits = DEFAULT_LIMITS) -> Batch:
    """Read, parse and clean a Batch of InputRefs into a batch ready to load.

    Each step turns whatever one post raises into a Reject for that post, within `limits` (newsetl/posts/limits.py),
    so the batch always comes back whole: every input is an article, a reject, skipped or deferred (a post
    using post_link of a source with `defer_links`: in `Batch.deferred`, its text kept, not cleaned yet).
    """
    return prepare_texts(read_inputs(inputs.items, encodings, limits), zones, rules, limits)


def prepare_texts(raws: Batch, zones: dict[str, ZoneInfo | PostOptions], rules: SiteRules,
                  limits: PostLimits = DEFAULT_LIMITS) -> Batch:
    """Parse and clean a Batch of RawPosts (decoded texts) into a batch ready to load."""
    parsed = parse_posts(raws, zones, limits)
    hrefs = [(post.source, post.locator, post.site_href) for post in parsed.items if post.site_href is not None]
    deferred = defer_linked(raws, parsed, zones)
    del raws
    cleaned = clean_posts(parsed, rules, limits)
    cleaned.deferred, cleaned.hrefs = deferred, hrefs
    return cleaned


def defer_linked(raws: Batch, parsed: Batch, zones: dict[str, ZoneInfo | PostOptions]) -> list[DeferredPost]:
    """Take the posts that used post_link/post_path before their source's link targets were known out of
    `parsed`, as DeferredPosts (only for sources whose options ask for it)."""
    if not any(isinstance(o, PostOptions) and o.defer_links and o.links is None for o in zones.values()):
        return []
    texts = {(raw.ref.source, raw.ref.locator): raw for raw in raws.items}
    kept, deferred = [], []
    for post in parsed.items:
        options = as_options(zones[post.source])
        if post.post_links and options.defer_links and options.links is None:
            deferred.append(DeferredPost(texts[(post.source, post.locator)], post.post_links, post.title,
                                         post.url or post.site_href))
        else:
            kept.append(post)
    parsed.items = kept
    return deferred
