"""The end of a run's post loading: posts that name other posts (`{% post_link %}`) are prepared and loaded
now that every other post is in the warehouse (newsetl/posts/post_links.py says why and how)."""

from __future__ import annotations

from typing import Callable

from newsetl.models import Batch
from newsetl.posts.limits import PostLimits
from newsetl.posts.post_links import DeferredLinks
from newsetl.rules import SiteRules
from newsetl.tasks.load import load_task
from newsetl.tasks.posts import prepare_texts_task
from newsetl.warehouse.articles import LoadCounts
from newsetl.warehouse.link_targets import source_posts


def relink_step(con, deferred: DeferredLinks, rules: SiteRules, limits: PostLimits, run_id: str, rejects: list,
                batch_size: int, force: bool = False, stats: Callable | None = None) -> LoadCounts:
    """Prepare and load the deferred posts with their link targets, in batches; adds to `rejects`."""
    total = LoadCounts()
    if not len(deferred):
        return total
    raws, options = deferred.finish(lambda source: source_posts(con, source))
    for start in range(0, len(raws.items), batch_size):
        batch = prepare_texts_task(Batch(raws.items[start:start + batch_size]), options, rules, limits)
        rejects.extend(batch.rejects)
        total.add(load_task(con, batch, run_id, force=force, stats=stats))
    return total
