"""`{% post_link %}` across a run: posts that name other posts are prepared once more at the end.

Hexo renders `{% post_link slug %}` with the other post's title and URL, so a post's rows depend on posts that
may come later in the run. The first pass (options with `defer_links`) hands every post that uses post_link or
post_path back unprepared, its decoded text kept (`Batch.deferred`); all other posts load as usual. After the
last batch the warehouse holds every other post of the run, so the targets the deferred posts name are looked
up there (by slug, then by title, as Hexo does) together with the deferred posts themselves, and the deferred
posts are prepared and loaded once, with their links resolved. Only their texts stay in memory, and only the
targets they name are kept; a post that loads unchanged is counted unchanged as any other.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePosixPath
from typing import Callable, Iterable

from newsetl.models import Batch, RawPost
from newsetl.posts.link_targets import DeferredPost, LinkTarget, LinkTargets
from newsetl.posts.options import PostOptions

# source name -> (locator, title, url) of its stored posts (newsetl.warehouse.link_targets.source_posts)
StoredPosts = Callable[[str], Iterable[tuple[str, str, str | None]]]


def post_slug(locator: str, options: PostOptions) -> str:
    """A post's slug as Hexo derives it: `:title` of the site's `new_post_name`, else the path without extension."""
    if options.site is not None:
        return options.site.slug(locator)
    return str(PurePosixPath(locator).with_suffix(""))


class DeferredLinks:
    """Collects the deferred posts of a run's batches and prepares what is needed to finish them."""

    def __init__(self, options: dict[str, PostOptions]) -> None:
        self.options = {name: replace(o, defer_links=True, links=None) for name, o in options.items()}
        self.posts: list[DeferredPost] = []

    def __len__(self) -> int:
        return len(self.posts)

    def add(self, batch: Batch) -> None:
        """Keep a loaded batch's deferred posts (called for each batch before it is loaded)."""
        self.posts.extend(batch.deferred)
        batch.deferred = []

    def targets(self, stored: StoredPosts) -> dict[str, LinkTargets]:
        """Per source with deferred posts: the posts they name, from the warehouse and from each other."""
        found: dict[str, LinkTargets] = {}
        for source in sorted({p.raw.ref.source for p in self.posts}):
            options = self.options[source]
            mine = [p for p in self.posts if p.raw.ref.source == source]
            wanted = {slug for p in mine for slug in p.slugs}
            targets = LinkTargets()
            for locator, title, url in stored(source):
                slug = post_slug(locator, options)
                if slug in wanted or title in wanted:
                    targets.add(slug, LinkTarget(title, url))
            for post in mine:  # deferred posts are not in the warehouse yet (or only their old version)
                targets.add(post_slug(post.raw.ref.locator, options), LinkTarget(post.title, post.url))
            found[source] = targets
        return found

    def finish(self, stored: StoredPosts) -> tuple[Batch, dict[str, PostOptions]]:
        """The deferred posts as a Batch of RawPosts and the options that resolve their links; forgets them."""
        targets = self.targets(stored)
        options = {name: replace(o, defer_links=False, links=targets.get(name, LinkTargets()))
                   for name, o in self.options.items()}
        raws: list[RawPost] = [p.raw for p in self.posts]
        self.posts = []
        return Batch(raws), options
