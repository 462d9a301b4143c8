"""Fetch every URL of the feed and post_urls sources and turn what is new into `ParsedPost`s.

Incremental on two levels: a 304 (the stored ETag / Last-Modified still hold) means nothing new at that
URL, and an item or post file whose content hash equals the one last ingested is counted `unchanged`.
One bad URL becomes one `Reject` (stage fetch, read or parse), whatever goes wrong with it (`_isolated`), and
the other URLs carry on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Awaitable, Callable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from newsetl.config import FeedSource, PostUrlsSource
from newsetl.errors import RejectError
from newsetl.feeds.decode import decode_body
from newsetl.feeds.fetch import Fetched, FetchFailed, Fetcher, HttpPolicy
from newsetl.feeds.items import feed_warnings, parse_feed
from newsetl.warehouse.source_state import SourceState, successor
from newsetl.models import FeedWarning, InputRef, ParsedPost, Reject
from newsetl.posts.discover import file_digest

RemoteSource = FeedSource | PostUrlsSource


@dataclass(slots=True)
class RemoteBatch:
    """What the remote sources yielded in one run."""

    posts: list[ParsedPost] = field(default_factory=list)   # new or changed: to clean and load
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    states: list[SourceState] = field(default_factory=list)  # to save once the posts are loaded
    warnings: list[FeedWarning] = field(default_factory=list)  # feed problems that did not stop its items

    @property
    def discovered(self) -> int:
        return len(self.posts) + self.unchanged

    def extend(self, other: "RemoteBatch") -> None:
        self.posts += other.posts
        self.unchanged += other.unchanged
        self.rejects += other.rejects
        self.states += other.states
        self.warnings += other.warnings


@dataclass(slots=True)
class Context:
    """Everything a source needs besides its own config."""

    fetcher: Fetcher
    known: dict[tuple[str, str], str]             # (source, locator) -> file hash last ingested
    previous: dict[tuple[str, str], SourceState]  # (source, url) -> last fetch state
    zones: dict[str, ZoneInfo]                    # source name -> zone for naive front-matter dates
    encodings: list[str]                          # fallbacks for post files without a usable charset


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _failed(ctx: Context, source: str, url: str, kind: str, stage: str, reason: str,
            status: int | None, out: RemoteBatch) -> None:
    """Record a URL that yielded nothing: a reject and a failed state (old validators kept)."""
    out.rejects.append(Reject(source, url, stage, reason))
    out.states.append(successor(ctx.previous.get((source, url)), source=source, url=url, kind=kind,
                                last_outcome="failed", fetched_at=_now(), last_status=status, last_error=reason))


def _fetched_state(ctx: Context, source: str, kind: str, got: Fetched, items: int | None,
                   rejected: int | None) -> SourceState:
    previous = ctx.previous.get((source, got.url))
    when = _now()
    if got.not_modified:
        return successor(previous, source=source, url=got.url, kind=kind, last_outcome="not_modified",
                         fetched_at=when, last_status=304, last_error=None, final_url=got.final_url)
    return successor(previous, source=source, url=got.url, kind=kind, last_outcome="fetched", fetched_at=when,
                     changed_at=when, last_status=got.status, last_error=None, final_url=got.final_url,
                     etag=got.etag, last_modified=got.last_modified, item_count=items, rejected_count=rejected)


async def _get(ctx: Context, source: str, url: str, kind: str, out: RemoteBatch,
               conditional: bool = True) -> Fetched | None:
    previous = ctx.previous.get((source, url)) if conditional else None
    try:
        return await ctx.fetcher.get(url, etag=previous.etag if previous else None,
                                     last_modified=previous.last_modified if previous else None)
    except FetchFailed as exc:
        _failed(ctx, source, url, kind, "fetch", exc.reason, exc.status, out)
        return None


def _keep(ctx: Context, post: ParsedPost, out: RemoteBatch) -> None:
    if ctx.known.get((post.source, post.locator)) == post.file_hash:
        out.unchanged += 1
    else:
        out.posts.append(post)


async def collect_feed_url(ctx: Context, source: FeedSource, url: str, categories: list[str],
                           out: RemoteBatch) -> None:
    """One feed URL: conditional GET, parse, keep the new and changed items."""
    got = await _get(ctx, source.name, url, "feed", out)
    if got is None:
        return
    if got.not_modified:
        out.states.append(_fetched_state(ctx, source.name, "feed", got, None, None))
        return
    try:
        parsed = parse_feed(got.content or b"", source=source.name, categories=categories,
                            content_type=got.content_type, feed_url=url, base_url=got.final_url)
    except RejectError as exc:
        _failed(ctx, source.name, url, "feed", "fetch", exc.reason, got.status, out)  # the whole feed is lost
        return
    for post in parsed.posts:
        _keep(ctx, post, out)
    out.rejects.extend(parsed.rejects)
    out.warnings.extend(feed_warnings(source.name, url, parsed))
    out.states.append(_fetched_state(ctx, source.name, "feed", got, len(parsed.posts) + len(parsed.rejects),
                                     len(parsed.rejects)))


def parse_url_list(text: str) -> list[str]:
    """URLs of a plain-text list: one a line; blank lines and `#` comments ignored; order kept, no repeats."""
    urls: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and line not in urls:
            urls.append(line)
    return urls


async def collect_post_url(ctx: Context, source: PostUrlsSource, url: str, out: RemoteBatch) -> None:
    """One Hexo post file by URL: conditional GET, decode its charset, parse it with the Hexo parser."""
    from newsetl.posts.parse import parse_post_text  # the foundation's parser: the same rules as local post files

    got = await _get(ctx, source.name, url, "post_url", out)
    if got is None:
        return
    if got.not_modified:
        out.unchanged += 1
        out.states.append(_fetched_state(ctx, source.name, "post_url", got, None, None))
        return
    data = got.content or b""
    digest = file_digest(data)  # a post file's hash, as for one on disk
    ref = InputRef(source.name, "post_urls", url, url, digest, len(data), url=got.final_url)
    try:
        text, _ = decode_body(data, got.charset, ctx.encodings)
        post = parse_post_text(text, ref, ctx.zones[source.name])
    except RejectError as exc:
        out.rejects.append(Reject(source.name, url, exc.stage, exc.reason, digest, len(data)))
        out.states.append(_fetched_state(ctx, source.name, "post_url", got, 1, 1))
        return
    _keep(ctx, post, out)
    out.states.append(_fetched_state(ctx, source.name, "post_url", got, 1, 0))


async def _collect_list(ctx: Context, source: PostUrlsSource, urls: list[str], out: RemoteBatch) -> None:
    """Add the http(s) URLs listed at `source.list_url` to `urls`; other lines are `discover` rejects."""
    got = await _get(ctx, source.name, source.list_url, "post_list", out, conditional=False)
    if got is None:
        return
    try:
        text, _ = decode_body(got.content or b"", got.charset, ctx.encodings)
    except RejectError as exc:
        _failed(ctx, source.name, source.list_url, "post_list", "fetch", exc.reason, got.status, out)
        return
    listed = parse_url_list(text)
    bad = [u for u in listed if not u.lower().startswith(("http://", "https://"))]
    for line in bad:
        out.rejects.append(Reject(source.name, line, "discover", f"not an http(s) URL in the list at {source.list_url}"))
    urls += [u for u in listed if u not in bad and u not in urls]
    out.states.append(_fetched_state(ctx, source.name, "post_list", got, len(listed), len(bad)))


async def collect_post_urls(ctx: Context, source: PostUrlsSource, out: RemoteBatch) -> None:
    """The listed URLs plus those in the list at `list_url` (fetched whole every run: it is small)."""
    urls = list(source.urls)
    if source.list_url:
        await _isolated(ctx, source.name, source.list_url, "post_list",
                        lambda part: _collect_list(ctx, source, urls, part), out)
    await _gather_into(out, [
        lambda part, u=url: _isolated(ctx, source.name, u, "post_url",
                                      lambda p: collect_post_url(ctx, source, u, p), part)
        for url in urls])


async def _isolated(ctx: Context, source: str, url: str, kind: str,
                    job: Callable[[RemoteBatch], Awaitable[None]], out: RemoteBatch) -> None:
    """Run one URL's job; any exception in it becomes a `fetch` reject for that URL, never a failed run.

    Expected failures are rejects already (HTTP errors, undecodable or malformed documents); this catches
    the rest: a library tripping over hostile bytes, a bug. What the job had collected is dropped with it.
    """
    mine = RemoteBatch()
    try:
        await job(mine)
    except Exception as exc:  # noqa: BLE001 - isolation: one URL's failure, whatever it is, stays with it
        text = " ".join(str(exc).split())[:300]
        _failed(ctx, source, url, kind, "fetch", f"{type(exc).__name__}: {text}" if text else type(exc).__name__,
                None, out)
        return
    out.extend(mine)


async def _gather_into(out: RemoteBatch, jobs: list) -> None:
    """Run jobs concurrently, each into its own batch, and merge them in job order (deterministic output)."""
    parts = [RemoteBatch() for _ in jobs]
    await asyncio.gather(*(job(part) for job, part in zip(jobs, parts)))
    for part in parts:
        out.extend(part)


async def collect_async(sources: list[RemoteSource], ctx: Context) -> RemoteBatch:
    out = RemoteBatch()
    jobs = []
    for source in sources:
        if isinstance(source, FeedSource):
            jobs += [lambda part, s=source, f=f: _isolated(
                         ctx, s.name, f.url, "feed", lambda p: collect_feed_url(ctx, s, f.url, f.categories or [], p),
                         part)
                     for f in source.feed_urls()]
        else:
            jobs.append(lambda part, s=source: collect_post_urls(ctx, s, part))
    await _gather_into(out, jobs)
    return out


def collect_remote(sources: list[RemoteSource], policy: HttpPolicy, *, known: dict[tuple[str, str], str],
                   previous: dict[tuple[str, str], SourceState], zones: dict[str, ZoneInfo],
                   encodings: list[str]) -> RemoteBatch:
    """Fetch all remote sources in one event loop; never raises for a bad URL or document."""

    async def run() -> RemoteBatch:
        async with Fetcher(policy) as fetcher:
            return await collect_async(sources, Context(fetcher, known, previous, zones, encodings))

    return asyncio.run(run())
