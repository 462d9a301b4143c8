"""Remote sources step: fetch feeds and post files by URL, then the same clean and load as local posts.

`remote_step` is the ingest flow's one call: it fetches (one Prefect task for all remote URLs), cleans and
loads the new and changed items in batches, saves `source_state` only after the load committed (so a crashed
run never leaves validators that would hide unloaded items behind a 304), and adds its counts to the run summary.
"""

from __future__ import annotations

import duckdb

from newsetl.config import Config
from newsetl.feeds.collect import RemoteBatch, RemoteSource
from newsetl.feeds.fetch import HttpPolicy
from newsetl.flows.log import phase
from newsetl.models import Batch, FeedWarning
from newsetl.rules import SiteRules
from newsetl.runtime.progress import report
from newsetl.runs import RunSummary
from newsetl.tasks.feeds import fetch_remote_task
from newsetl.tasks.load import load_task
from newsetl.tasks.posts import clean_task
from newsetl.warehouse.articles import LoadCounts
from newsetl.warehouse.feed_warnings import save_warnings
from newsetl.warehouse.raw_posts import store_posts
from newsetl.warehouse.runs import set_sources
from newsetl.warehouse.source_files import known_hashes
from newsetl.warehouse.source_state import SourceState, load_states, save_states



def http_policy(config: Config) -> HttpPolicy:
    """The feeds' HTTP policy; the SSRF guard falls back to the images section's settings."""
    h = config.http
    block = h.block_private if h.block_private is not None else config.images.block_private
    allow = h.allow_hosts if h.allow_hosts is not None else config.images.allow_hosts
    return HttpPolicy(user_agent=h.user_agent, connect_timeout=h.connect_timeout, read_timeout=h.read_timeout,
                      total_timeout=h.total_timeout, max_bytes=h.max_bytes, max_redirects=h.max_redirects,
                      retries=h.retries, backoff=h.backoff, backoff_max=h.backoff_max,
                      retry_after_max=h.retry_after_max, block_private=block, allow_hosts=tuple(allow),
                      concurrency=h.concurrency)


def fetch_remote(con: duckdb.DuckDBPyConnection, config: Config, sources: list[RemoteSource]) -> RemoteBatch:
    """Fetch every URL of `sources` against the warehouse's known hashes and stored validators."""
    previous: dict[tuple[str, str], SourceState] = {}
    for source in sources:
        previous.update({(source.name, url): st for url, st in load_states(con, source.name).items()})
    zones = config.source_zones(sources)
    return fetch_remote_task(sources, http_policy(config), known=known_hashes(con), previous=previous,
                             zones=zones, encodings=config.encodings)


def remote_step(con: duckdb.DuckDBPyConnection, config: Config, summary: RunSummary,
                rules: SiteRules) -> RemoteBatch | None:
    """Fetch, clean and load the feed and post_urls sources with the run's `rules`; fold counts into `summary`."""
    sources = config.remote_sources()
    if not sources:
        return None
    report("fetch: feeds and post URLs", 0, 0)
    try:
        remote = fetch_remote(con, config, sources)
    except duckdb.Error:
        raise  # the warehouse itself: that fails the run
    except Exception as exc:  # noqa: BLE001 - the fetch task as a whole (each URL is isolated inside it)
        summary.add_problem(f"feeds and post URLs: fetch failed: {type(exc).__name__}: {' '.join(str(exc).split())}")
        return None
    store_posts(con, remote.posts)  # raw input for `newsetl backfill` (warehouse/raw_posts.py)
    total = LoadCounts()
    rejects = list(remote.rejects)
    total.add(load_task(con, Batch([], remote.rejects), summary.run_id))
    for start in range(0, len(remote.posts), config.batch_size):
        cleaned: Batch = clean_task(Batch(remote.posts[start:start + config.batch_size], []), rules)
        rejects += cleaned.rejects
        total.add(load_task(con, cleaned, summary.run_id))
    save_states(con, remote.states, summary.run_id)
    if save_warnings(con, remote.warnings, summary.run_id):  # read anyway: a warning, not a reject
        summary.extra["feed warnings"] = _warning_table(remote.warnings)
    summary.sources += [s.name for s in sources if s.name not in summary.sources]
    set_sources(con, summary)
    summary.discovered += remote.discovered
    summary.new += total.new
    summary.updated += total.updated
    summary.unchanged += remote.unchanged + total.unchanged
    summary.rejected += total.rejected
    summary.add_rejects(rejects)
    summary.extra["remote sources"] = _state_table(remote.states)
    phase("fetch: %d URLs of %d sources, %d items, %d new, %d updated, %d rejected", len(remote.states),
          len(sources), remote.discovered, total.new, total.updated, total.rejected)
    return remote


def _state_table(states: list[SourceState]) -> str:
    """The URLs fetched this run as a markdown table for the run artifact."""
    lines = ["| source | url | outcome | status | items | error |", "|---|---|---|---:|---:|---|"]
    for s in states:
        lines.append(f"| {s.source} | {s.url} | {s.last_outcome} | {s.last_status or ''} | "
                     f"{'' if s.item_count is None else s.item_count} | {s.last_error or ''} |")
    return "\n".join(lines)


def _warning_table(warnings: list[FeedWarning]) -> str:
    """Feed problems that did not stop their items (malformed but recovered, repeated guids, repairs)."""
    lines = ["| source | url | kind | items | message |", "|---|---|---|---:|---|"]
    lines += [f"| {w.source} | {w.url} | {w.kind} | {w.count} | {w.message} |" for w in warnings]
    return "\n".join(lines)
