"""The `ingest` flow: discover -> read -> parse -> clean -> load -> record.

Read, parse and clean run on the configured task runner as one task run per batch of posts
(newsetl/posts/pipeline.py chains the three step functions, tasks/posts.py wraps it); loading is done inline by the flow itself, the
warehouse's single writer, one transaction per batch.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture

from newsetl.config import Config, HexoDirSource
from newsetl.models import Batch, InputRef
from newsetl.runtime.progress import report
from newsetl.runtime.worker_pool import warm
from newsetl.posts.discover import ChangedFiles
from newsetl.posts.sources import count_drafts, usable_options
from newsetl.rules import SiteRules
from newsetl.flows.analytics import analytics_ahead, analytics_step
from newsetl.flows.batches import Submitted, let_go, submitter, wait_all
from newsetl.posts.limits import PostLimits
from newsetl.flows.post_links import deferred_links, dependents_step, relink_step
from newsetl.flows.images import images_step
from newsetl.flows.log import phase
from newsetl.tasks.load import load_task
from newsetl.tasks.posts import discover_task, prepare_task
from newsetl.flows.record import begin_run, recorded_run, run_state
from newsetl.posts.roots import sources_for_paths as path_sources
from newsetl.runs import RunSummary, skipped_part
from newsetl.warehouse.articles import LoadCounts
from newsetl.warehouse.db import checkpoint, limit_memory, release_memory, writer
from newsetl.warehouse.runs import set_sources
from newsetl.warehouse.source_roots import record_roots, recorded_roots
from newsetl.warehouse.source_files import known_hashes, known_stats, refresh_stats

IN_FLIGHT_BATCHES = 4  # batches submitted ahead of the loader
LOADER_SWITCH_INTERVAL = 0.0005  # seconds; see load_batches


def sources_for_paths(paths: list[str], config: Config | None = None, con=None) -> list[HexoDirSource]:
    """Sources for paths given on the command line (folders or post files), by the rule in newsetl/posts/roots.py.

    A path under a configured source's folder is that source; else the nearest root an earlier ad-hoc ingest
    used (`source_roots`, read and extended through `con`), else a Hexo `_posts` folder, else the path itself.
    """
    configured = [(s, config.resolve(s.path)) for s in (config.sources if config else [])
                  if isinstance(s, HexoDirSource)]
    found = path_sources(paths, configured, recorded_roots(con) if con is not None else {})
    if con is not None:
        record_roots(con, {root: name for root, name in found.new_roots.items() if Path(root).is_dir()})
    return found.sources


def input_batches(refs: Iterable[InputRef], size: int) -> Iterator[Batch]:
    """`refs` in Batches of `size`: a Batch, not a list, so Prefect does not walk 1,000 refs per task call."""
    refs = iter(refs)
    while chunk := list(islice(refs, size)):
        yield Batch(chunk)


@flow(name="ingest", log_prints=False)
def ingest(config: Config, paths: list[str] | None = None) -> dict:
    """Ingest the configured sources (or `paths`) into the warehouse; returns the run summary."""
    logger = get_run_logger()
    hexo_sources = [] if paths else [s for s in config.sources if isinstance(s, HexoDirSource)]
    summary = begin_run(sources=[s.name for s in hexo_sources])
    with writer(config.resolve(config.warehouse)) as con, recorded_run(con, summary):
        limit_memory(con, config.memory_limit)  # DuckDB's buffer pool, not 80 % of the RAM
        if paths:  # ad-hoc paths: their source depends on the configured and recorded roots
            hexo_sources = sources_for_paths(paths, config, con)
            summary.sources = sorted({s.name for s in hexo_sources})
            set_sources(con, summary)
        rules = config.site_rules()  # loaded once per run
        _run(con, config, hexo_sources, summary, rules)
        if not paths and config.remote_sources():  # feeds and post_urls
            from newsetl.flows.remote import remote_step  # only then: feedparser and bs4 (~0.13 s of imports)

            remote_step(con, config, summary, rules)
        ahead = analytics_ahead(con, config.reporting)  # the idle workers segment its first chunks meanwhile
        images_step(con, config, summary)  # after every load: fetch what the articles reference
        release_memory(con, config.memory_limit)  # what registering images freed (+220 MB at 100k posts)
        analytics_step(con, config.reporting, summary, ahead)
    logger.info("run %s %s: %s new, %s updated, %s unchanged, %s rejected%s", summary.run_id, summary.status,
                summary.new, summary.updated, summary.unchanged, summary.rejected, skipped_part(summary.skipped))
    return run_state(summary.to_dict())  # a partial run ends as Completed named "Partial"


def _run(con, config: Config, hexo_sources: list[HexoDirSource], summary: RunSummary, rules: SiteRules) -> None:
    stage_start = time.perf_counter()
    report("discover: listing files", 0, 0)
    zones, unusable = usable_options(config, hexo_sources)  # each source's zone, body format, Hexo site config
    hexo_sources = [s for s in hexo_sources if s.name in zones]  # a broken site config: that source is a reject
    known, stats = known_hashes(con), known_stats(con)
    listing = discover_task([(s, zones[s.name].root) for s in hexo_sources])
    listing.rejects[:0] = unusable
    summary.stage_seconds["discover"] = time.perf_counter() - stage_start
    listed = len(listing.files)  # ChangedFiles empties the listing as it reads
    phase("discover: %d files in %d sources (%.1f s)", listed, len(hexo_sources), summary.stage_seconds["discover"])

    stage_start = time.perf_counter()
    total = LoadCounts()
    rejects = list(listing.rejects)
    if listing.rejects:  # sources that could not be walked at all
        total.add(load_task(con, Batch([], listing.rejects), summary.run_id))
    changed = ChangedFiles(listing.files, known,  # each file read and hashed once, lazily, batch by batch
                           {name: options.fingerprint for name, options in zones.items()},
                           stats, rehash=config.rehash,  # unchanged stat: skipped unread (migration 009)
                           max_bytes=config.limits.max_post_bytes,  # bigger: rejected by stat size, unread
                           on_read=warm,  # the first file to prepare starts the worker processes
                           consume=True)  # empties the listing once read: Prefect keeps the discover
    # task's result (this Listing) alive until the flow ends, through images and analytics (~8 MB at 100k posts)
    limits = PostLimits.of(config.limits)  # plain data for the workers
    deferred = deferred_links(con, zones)  # posts using post_link: prepared at the end (flows/post_links.py)
    submit = submitter(prepare_task, config.encodings, deferred.options, rules, limits)  # a failed batch: halves
    cleaned = (submit(inputs) for inputs in input_batches(changed, config.batch_size))  # read when submitted
    summary.stage_seconds["load"] = load_batches(con, cleaned, total, rejects, summary.run_id, listed,
                                                 skipped=lambda: changed.unchanged + len(changed.rejects)
                                                 + len(deferred),
                                                 stats=changed.take_stat, on_batch=deferred.add)
    total.add(relink_step(con, deferred, rules, limits, summary.run_id, rejects, config.batch_size,
                          stats=changed.take_stat))
    refresh_stats(con, changed.restat)  # files re-hashed and found unchanged (touched, copied back, --rehash)
    if changed.rejects:  # files that could not be read
        rejects.extend(changed.rejects)
        total.add(load_task(con, Batch([], changed.rejects), summary.run_id))
    relinked, again = dependents_step(con, deferred, changed, config.encodings, rules, limits, summary.run_id,
                                      rejects, config.batch_size)  # unchanged posts showing a changed title
    total.add(again)
    drafts = sum(count_drafts(s, zones[s.name]) for s in hexo_sources)  # never listed: skipped, but counted
    # = new + updated + unchanged + rejected + skipped
    summary.discovered = changed.discovered + len(listing.rejects) + drafts
    summary.unchanged = changed.unchanged - relinked  # those rendered again count as what they became
    summary.stage_seconds["read+parse+clean+load"] = time.perf_counter() - stage_start
    stage_start = time.perf_counter()
    checkpoint(con)  # fold the run's write-ahead log into the warehouse file
    release_memory(con, config.memory_limit)  # what loading freed, before the images and analytics steps
    summary.stage_seconds["checkpoint"] = time.perf_counter() - stage_start
    summary.new, summary.updated = total.new, total.updated
    summary.unchanged += total.unchanged
    summary.rejected = total.rejected
    summary.skipped = total.skipped + drafts
    summary.add_rejects(rejects)  # a source that could not be walked makes the run partial; bad posts do not
    phase("load: %d files read, %d new, %d updated, %d unchanged, %d rejected%s (%.1f s)", summary.discovered,
          summary.new, summary.updated, summary.unchanged, summary.rejected, skipped_part(summary.skipped),
          summary.stage_seconds["read+parse+clean+load"])


def load_batches(con, cleaned: Iterator[PrefectFuture | Submitted], total: LoadCounts, rejects: list, run_id: str,
                 expected: int, force: bool = False, skipped: Callable[[], int] | None = None,
                 stats: Callable | None = None, on_batch: Callable[[Batch], None] | None = None) -> float:
    """Load batches in order as their futures finish, with a bounded window of batches in flight.

    `cleaned` submits lazily (a generator), so the window keeps memory flat however many posts there are.
    A `Submitted` batch whose task run failed as a whole is tried again in halves (flows/batches.py), down to
    single posts that become rejects: only a failure to write the warehouse fails the run.
    Adds to `total` and `rejects`; returns the seconds spent loading. `force` and `stats` (each input file's
    stat when hashed) are passed to `load_batch`.
    Progress (of `expected` inputs) is reported after each batch; `skipped()` counts inputs that never reach a
    batch (unchanged or unreadable files), so the bar reaches the end on a rerun too. `on_batch(batch)` sees each
    prepared batch before it is loaded (the ingest takes its deferred post_link posts).
    """
    in_flight: deque[PrefectFuture | Submitted | Batch] = deque(islice(cleaned, IN_FLIGHT_BATCHES))
    done = 0
    load_seconds = 0.0
    report("load", 0, expected)
    # The loader (this thread) needs the GIL whenever DuckDB calls back into Python (Arrow scans); with
    # worker threads parsing, the default 5 ms switch interval tripled load time. Hand it back sooner.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(LOADER_SWITCH_INTERVAL)
    try:
        while in_flight:
            pending = in_flight.popleft()
            if isinstance(pending, Batch):  # a part of a batch that failed as a whole, prepared again
                batch = pending
            elif isinstance(pending, Submitted):
                batch, failure = pending.outcome()
                if batch is None:  # failed as a whole: when the others in flight are done, again in halves
                    wait_all(in_flight)
                    in_flight.extendleft(reversed(pending.isolate(failure)))
                    continue
            else:
                batch = pending.result()
            del pending
            in_flight.extend(islice(cleaned, 1))
            rejects.extend(batch.rejects)
            if on_batch is not None:
                on_batch(batch)
            started = time.perf_counter()
            total.add(load_task(con, batch, run_id, force=force, stats=stats))
            load_seconds += time.perf_counter() - started
            done += len(batch.items) + len(batch.rejects)
            let_go(batch)  # its rows, now: the finished future still holds the batch (see let_go)
            del batch
            report("load", done + (skipped() if skipped else 0), expected)
    finally:
        sys.setswitchinterval(switch_interval)
    report("load", done + (skipped() if skipped else 0), expected)
    return load_seconds
