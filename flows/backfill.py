"""The `backfill` flow: re-parse, re-clean and reload articles already in the warehouse.

It selects articles by publication window and/or source (`newsetl backfill`), or those cleaned with older
rules (`newsetl reprocess --rules-changed`), re-reads their cached raw input (for Hexo folders: the post
files themselves; for feed items and posts fetched by URL: the `raw_posts` table) and reloads them with
`force`, bypassing the incremental skip on `source_files.file_hash`.
"""

from __future__ import annotations

import time
from collections import Counter
from itertools import chain
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta

from pathlib import Path

import duckdb
from prefect import flow, get_run_logger

from newsetl.config import Config, HexoDirSource, check_zone
from newsetl.models import Batch, InputRef, ParsedPost, Reject
from newsetl.warehouse.raw_posts import cached_posts
from newsetl.flows.batches import submitter
from newsetl.posts.limits import PostLimits
from newsetl.flows.ingest import input_batches, load_batches
from newsetl.posts.discover import PostFile, file_digest
from newsetl.posts.options import PostOptions
from newsetl.flows.post_links import deferred_links, relink_step, render_again, stale_posts
from newsetl.posts.sources import post_options
from newsetl.tasks.load import load_task
from newsetl.tasks.posts import clean_task, prepare_task
from newsetl.flows.record import begin_run, recorded_run, run_state
from newsetl.runs import RunSummary
from newsetl.warehouse.articles import LoadCounts, select_for_backfill
from newsetl.warehouse.db import writer
from newsetl.warehouse.source_roots import recorded_roots


@dataclass(slots=True)
class Selection:
    """What to reprocess: a publication window (dates in the config's time zone, `until` inclusive)."""

    since: date | None = None
    until: date | None = None
    source: str | None = None
    rules_older_than: str | None = None  # select rows whose rules_version differs from this one

    def describe(self) -> str:
        parts = [f"since {self.since}" if self.since else "", f"until {self.until}" if self.until else "",
                 f"source {self.source}" if self.source else "",
                 f"rules_version != {self.rules_older_than}" if self.rules_older_than else ""]
        return ", ".join(p for p in parts if p) or "all articles"


@dataclass(slots=True)
class Targets:
    refs: list[InputRef] = field(default_factory=list)
    posts: list[ParsedPost] = field(default_factory=list)  # remote articles from the raw_posts cache
    rejects: list[Reject] = field(default_factory=list)
    not_cached: Counter = field(default_factory=Counter)  # source -> articles with no raw input to reuse


def select_articles(con: duckdb.DuckDBPyConnection, sel: Selection, zone: str) -> list[tuple[str, str, str]]:
    """(source, source_type, locator) of the selected articles, ordered."""
    tz = check_zone(zone)
    return select_for_backfill(
        con,
        published_from=datetime.combine(sel.since, dtime(), tz) if sel.since else None,
        published_before=datetime.combine(sel.until + timedelta(days=1), dtime(), tz) if sel.until else None,
        source=sel.source, rules_other_than=sel.rules_older_than)


def hexo_sources(con: duckdb.DuckDBPyConnection, config: Config) -> list[HexoDirSource]:
    """The configured hexo_dir sources, plus the roots `newsetl ingest PATH` recorded (`source_roots`)."""
    sources = [s for s in config.sources if isinstance(s, HexoDirSource)]
    names = {s.name for s in sources}
    for root, name in sorted(recorded_roots(con).items()):
        if name not in names:
            sources.append(HexoDirSource(name=name, path=Path(root)))
            names.add(name)
    return sources


def cached_inputs(con: duckdb.DuckDBPyConnection, options: dict[str, PostOptions],
                  selected: list[tuple[str, str, str]]) -> Targets:
    """The selected articles' cached raw input: post files for Hexo folders, `raw_posts` for remote ones.

    A post file's hash is the one ingest records (`file_digest`, with its site's fingerprint)."""
    remote = cached_posts(con, [(s, loc) for s, kind, loc in selected if kind != "hexo_dir"])
    out = Targets()
    for source, source_type, locator in selected:
        root = options[source].root if source in options else None
        if source_type != "hexo_dir" and (source, locator) in remote:
            out.posts.append(remote[(source, locator)])
            continue
        if source_type != "hexo_dir" or root is None:
            out.not_cached[source] += 1
            continue
        path = root / locator
        try:
            data = path.read_bytes()
        except OSError as exc:
            out.rejects.append(Reject(source, locator, "read", f"cached input gone: {path} ({exc.strerror})"))
            continue
        digest = file_digest(data, options[source].fingerprint)
        out.refs.append(InputRef(source, "hexo_dir", locator, str(path), digest, len(data), data=data))
    return out


def linking_files(keys: set[tuple[str, str]], options: dict[str, PostOptions]) -> list[PostFile]:
    """The post files of (source, locator) keys of Hexo folder sources, as `cached_inputs` finds them."""
    return [PostFile(source, locator, options[source].root / locator) for source, locator in sorted(keys)
            if source in options and options[source].root is not None]


@flow(name="backfill", log_prints=False)
def backfill(config: Config, selection: Selection) -> dict:
    """Reprocess the selected articles from cached raw input; returns the run summary."""
    logger = get_run_logger()
    summary = begin_run()
    rules = config.site_rules()
    with writer(config.resolve(config.warehouse)) as con:
        selected = select_articles(con, selection, config.timezone)
        options = post_options(config, hexo_sources(con, config))  # once: zones, roots, site fingerprints
        targets = cached_inputs(con, options, selected)
        summary.sources = sorted({s for s, _, _ in selected})
        with recorded_run(con, summary):
            _reprocess(con, config, rules, options, targets, summary)
            summary.extra["backfill"] = (f"{selection.describe()}: {len(selected)} selected, "
                                         f"{len(targets.refs) + len(targets.posts)} re-read from cache")
            if targets.not_cached:
                summary.extra["not reprocessed"] = ", ".join(
                    f"{source}: {n} (no cached raw input)" for source, n in sorted(targets.not_cached.items()))
                summary.add_problem("some selected articles have no cached raw input")
    logger.info("backfill %s %s: %s selected, %s updated, %s rejected", summary.run_id, summary.status,
                summary.discovered, summary.updated, summary.rejected)
    return run_state(summary.to_dict())  # a partial run ends as Completed named "Partial"


def _reprocess(con, config: Config, rules, options: dict[str, PostOptions], targets: Targets,
               summary: RunSummary) -> None:
    started = time.perf_counter()
    size = config.batch_size
    limits = PostLimits.of(config.limits)  # plain data for the workers
    deferred = deferred_links(con, options)  # posts using post_link: prepared at the end (flows/post_links.py)
    prepare = submitter(prepare_task, config.encodings, deferred.options, rules, limits)  # a failed batch: halves
    clean = submitter(clean_task, rules, limits)
    cleaned = chain(
        (prepare(inputs) for inputs in input_batches(targets.refs, size)),
        (clean(Batch(targets.posts[i:i + size], []))  # cached remote items: already parsed
         for i in range(0, len(targets.posts), size)),
    )
    total = LoadCounts()
    rejects = list(targets.rejects)
    if targets.rejects:
        total.add(load_task(con, Batch([], targets.rejects), summary.run_id))
    load_batches(con, cleaned, total, rejects, summary.run_id, len(targets.refs) + len(targets.posts), force=True,
                 on_batch=deferred.add)
    total.add(relink_step(con, deferred, rules, limits, summary.run_id, rejects, size, force=True))
    relinked, again = render_again(con, deferred, linking_files(stale_posts(con, deferred), options),
                                   {name: o.fingerprint for name, o in options.items()},
                                   config.limits.max_post_bytes, config.encodings, rules, limits, summary.run_id,
                                   rejects, size)  # posts outside the selection that show a changed title
    total.add(again)
    summary.discovered = (len(targets.refs) + len(targets.posts) + len(targets.rejects)
                          + sum(targets.not_cached.values()) + relinked)
    summary.new, summary.updated, summary.unchanged = total.new, total.updated, total.unchanged
    summary.rejected = total.rejected
    summary.add_rejects(rejects)
    summary.stage_seconds["read+parse+clean+load"] = time.perf_counter() - started
