"""`{% post_link %}` across a run: posts that name other posts are prepared once more at the end.

Hexo renders `{% post_link slug %}` with the other post's title and URL, so a post's rows depend on posts that
may come later in the run. The first pass (options with `defer_links`) hands every post that uses post_link or
post_path back unprepared, its decoded text kept (`Batch.deferred`); all other posts load as usual. After the
last batch the warehouse holds every other post of the run, so the targets the deferred posts name are looked
up there (by slug, then by title, as Hexo does) together with the deferred posts themselves, and the deferred
posts are prepared and loaded once, with their links resolved. Only their texts stay in memory, and only the
targets they name are kept; a post that loads unchanged is counted unchanged as any other.

What each linking post showed for each name is stored (`article_links`, via `link_rows`). When a named post's
title or URL changes in a run, `stale` finds the posts that still show the old one although their own files
did not change, and the flow renders them again (flows/post_links.py: `dependents_step`), as Hexo regenerates
every post of a site.
"""

from __future__ import annotations

from dataclasses import replace
from heapq import merge
from pathlib import PurePosixPath
from typing import Callable, Iterable

from newsetl.models import Article, Batch, RawPost
from newsetl.posts.link_targets import DeferredPost, LinkTarget, LinkTargets
from newsetl.posts.options import PostOptions

# source name -> (locator, title, url) of its stored posts (newsetl.warehouse.link_targets.source_posts)
StoredPosts = Callable[[str], Iterable[tuple[str, str, str | None]]]
# source name -> (locator, target, title, url) of its stored links (newsetl.warehouse.article_links.source_links)
StoredLinks = Callable[[str], Iterable[tuple[str, str, str | None, str | None]]]
Key = tuple[str, str]  # (source, locator)


def post_slug(locator: str, options: PostOptions) -> str:
    """A post's slug as Hexo derives it: `:title` of the site's `new_post_name`, else the path without extension."""
    if options.site is not None:
        return options.site.slug(locator)
    return str(PurePosixPath(locator).with_suffix(""))


class DeferredLinks:
    """Collects the deferred posts of a run's batches and prepares what is needed to finish them."""

    def __init__(self, options: dict[str, PostOptions], linked: Iterable[str] = (),
                 keep_hrefs: Callable[[list[tuple[str, str, str]]], None] | None = None) -> None:
        self.options = {name: replace(o, defer_links=True, links=None) for name, o in options.items()}
        self.posts: list[DeferredPost] = []
        self.linked = frozenset(linked)  # sources with stored links (article_links) when the run began
        self.seen: set[Key] = set()  # posts of those sources prepared (or rejected) in this run
        self.unlinked: list[Key] = []  # ... and loaded without post_link: their stored links go
        self.names: dict[Key, list[str]] = {}  # after `finish`: what each deferred post names
        self.keep_hrefs = keep_hrefs  # stores each batch's `Batch.hrefs` (posts of sites without `url:`)

    def __len__(self) -> int:
        return len(self.posts)

    def add(self, batch: Batch) -> None:
        """Keep a loaded batch's deferred posts (called for each batch before it is loaded)."""
        self.posts.extend(batch.deferred)
        if batch.hrefs and self.keep_hrefs is not None:
            self.keep_hrefs(batch.hrefs)
        if self.linked:
            self.seen.update((p.raw.ref.source, p.raw.ref.locator) for p in batch.deferred
                             if p.raw.ref.source in self.linked)
            for item in batch.items:
                if item.source in self.linked:
                    self.seen.add((item.source, item.locator))
                    self.unlinked.append((item.source, item.locator))
            self.seen.update((r.source, r.locator) for r in batch.rejects if r.source in self.linked)
        batch.deferred = []

    def targets(self, stored: StoredPosts) -> dict[str, LinkTargets]:
        """Per source with deferred posts: the posts they name, from the warehouse and from each other."""
        found: dict[str, LinkTargets] = {}
        for source in sorted({p.raw.ref.source for p in self.posts}):
            options = self.options[source]
            mine = [p for p in self.posts if p.raw.ref.source == source]
            # Deferred posts are not in the warehouse yet, or only their old version: theirs replace it, in
            # the warehouse's locator order, so a title two posts share finds the one `stale` will find.
            own = sorted((p.raw.ref.locator, p.title, p.url) for p in mine)
            old = {locator for locator, _, _ in own}
            rows = merge((row for row in stored(source) if row[0] not in old), own, key=lambda row: row[0])
            found[source] = stored_targets(rows, options, {slug for p in mine for slug in p.slugs})
        return found

    def finish(self, stored: StoredPosts) -> tuple[Batch, dict[str, PostOptions]]:
        """The deferred posts as a Batch of RawPosts and the options that resolve their links; forgets them."""
        targets = self.targets(stored)
        options = {name: replace(o, defer_links=False, links=targets.get(name, LinkTargets()))
                   for name, o in self.options.items()}
        raws: list[RawPost] = [p.raw for p in self.posts]
        self.names = {(p.raw.ref.source, p.raw.ref.locator): p.slugs for p in self.posts}
        self.posts = []
        return Batch(raws), options

    def link_rows(self, articles: list[Article], options: dict[str, PostOptions]) -> list:
        """What each finished article's names showed: ((source, locator), [(name, title, url), ...]), the
        rows of `article_links` (titles as the articles table holds them: whitespace collapsed)."""
        found = []
        for article in articles:
            names = self.names.get((article.source, article.locator))
            if names is None:
                continue
            links = options[article.source].links or LinkTargets()
            found.append(((article.source, article.locator),
                          [(name, *shown(links.find(name))) for name in dict.fromkeys(names)]))
        return found

    def stale(self, links: StoredLinks, stored: StoredPosts) -> set[Key]:
        """The posts not prepared in this run that show a post whose title or URL is now another one.

        Only sources with stored links where something was prepared in this run are looked at: a title or
        URL changes only when its post is loaded again."""
        found: set[Key] = set()
        for source in sorted(self.linked & self.options.keys()):
            if not any(key[0] == source for key in self.seen):
                continue
            mine = [link for link in links(source) if (source, link[0]) not in self.seen]
            if not mine:
                continue
            targets = stored_targets(stored(source), self.options[source], {link[1] for link in mine})
            found.update((source, locator) for locator, name, title, url in mine
                         if shown(targets.find(name)) != (title, url))
        return found


def shown(target: LinkTarget | None) -> tuple[str | None, str | None]:
    """What a link shows of its target, as stored and compared: (title, url), (None, None) for no post."""
    return (" ".join(target.title.split()), target.url) if target is not None else (None, None)


def stored_targets(stored: Iterable[tuple[str, str, str | None]], options: PostOptions,
                   wanted: set[str]) -> LinkTargets:
    """The stored posts (locator, title, url) whose slug or title is one of `wanted`."""
    targets = LinkTargets()
    for locator, title, url in stored:
        slug = post_slug(locator, options)
        if slug in wanted or title in wanted:
            targets.add(slug, LinkTarget(title, url))
    return targets
