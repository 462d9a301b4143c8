"""The end of a run's post loading: posts that name other posts (`{% post_link %}`) are prepared and loaded
now that every other post is in the warehouse, and unchanged posts that show a post whose title or URL
changed are rendered again (newsetl/posts/post_links.py says why and how)."""

from __future__ import annotations

from itertools import islice
from typing import Callable

from newsetl.models import Batch
from newsetl.posts.discover import ChangedFiles, PostFile
from newsetl.posts.limits import PostLimits
from newsetl.posts.post_links import DeferredLinks
from newsetl.rules import SiteRules
from newsetl.tasks.load import load_task
from newsetl.tasks.posts import prepare_task, prepare_texts_task
from newsetl.posts.options import PostOptions
from newsetl.warehouse.article_links import (drop_links, linked_sources, replace_links, source_links,
                                             store_hrefs)
from newsetl.warehouse.articles import LoadCounts
from newsetl.warehouse.link_targets import source_posts


def deferred_links(con, options: dict[str, PostOptions]) -> DeferredLinks:
    """What a run's `load_batches(on_batch=...)` hands its batches to: posts using post_link are kept for
    `relink_step`, the hrefs of posts of sites without `url:` are stored, stored links are kept up to date."""
    return DeferredLinks(options, linked_sources(con), lambda hrefs: store_hrefs(con, hrefs))


def relink_step(con, deferred: DeferredLinks, rules: SiteRules, limits: PostLimits, run_id: str, rejects: list,
                batch_size: int, force: bool = False, stats: Callable | None = None) -> LoadCounts:
    """Prepare and load the deferred posts with their link targets, in batches, and store what their links
    show (`article_links`); forget the links of posts loaded without any. Adds to `rejects`."""
    total = LoadCounts()
    drop_links(con, deferred.unlinked)
    deferred.unlinked = []
    if not len(deferred):
        return total
    raws, options = deferred.finish(lambda source: source_posts(con, source))
    for start in range(0, len(raws.items), batch_size):
        batch = prepare_texts_task(Batch(raws.items[start:start + batch_size]), options, rules, limits)
        rejects.extend(batch.rejects)
        replace_links(con, deferred.link_rows(batch.items, options))  # first: a crash before the load re-reads
        total.add(load_task(con, batch, run_id, force=force, stats=stats))
    return total


def dependents_step(con, deferred: DeferredLinks, changed: ChangedFiles, encodings: list[str], rules: SiteRules,
                    limits: PostLimits, run_id: str, rejects: list, batch_size: int) -> tuple[int, LoadCounts]:
    """Render again the posts counted unchanged in this ingest (`changed`, iterated) that show a linked post
    whose title or URL changed (call after `relink_step`). Returns how many files to take back from the run's
    unchanged count, and the load counts of what they became."""
    deferred.add(Batch([], changed.rejects))  # files that could not be read: not tried twice
    stale = stale_posts(con, deferred)
    files = [f for f in changed.files if (f.source, f.locator) in stale] if stale else []
    return render_again(con, deferred, files, changed.salts, changed.max_bytes, encodings, rules, limits, run_id,
                        rejects, batch_size)


def stale_posts(con, deferred: DeferredLinks) -> set[tuple[str, str]]:
    """(source, locator) of the posts not prepared in this run that show a post whose title or URL changed."""
    return deferred.stale(lambda source: source_links(con, source), lambda source: source_posts(con, source))


def render_again(con, deferred: DeferredLinks, files: list[PostFile], salts: dict[str, str],
                 max_bytes: int | None, encodings: list[str], rules: SiteRules, limits: PostLimits, run_id: str,
                 rejects: list, batch_size: int) -> tuple[int, LoadCounts]:
    """Read, hash (as ingest does), prepare and load `files` again, their post_link resolved by `relink_step`;
    returns how many files were taken and the load counts of what they became. Each file is read once here
    (they were not read earlier in the run: their stat was unchanged)."""
    if not files:
        return 0, LoadCounts()
    again = ChangedFiles(files, {}, salts, max_bytes=max_bytes)
    follow = DeferredLinks(deferred.options, deferred.linked, deferred.keep_hrefs)
    total = LoadCounts()
    refs = iter(again)
    while chunk := list(islice(refs, batch_size)):
        batch = prepare_task(Batch(chunk), encodings, follow.options, rules, limits)
        rejects.extend(batch.rejects)
        follow.add(batch)
        total.add(load_task(con, batch, run_id, stats=again.stat_of))
    if again.rejects:  # files that could not be read now
        rejects.extend(again.rejects)
        total.add(load_task(con, Batch([], again.rejects), run_id))
    total.add(relink_step(con, follow, rules, limits, run_id, rejects, batch_size, stats=again.stat_of))
    return again.discovered, total
