"""The analytics refresh (after load): duplicate stories, keyword tokens and the full-text search index.

Incremental: only articles whose content hash changed are hashed and segmented again (a text shared by reposts
once), and only their search documents are rewritten in the search index (added, removed or segmented
differently). Clusters are rebuilt from the stored signatures when a signature changed (no text: well under a
second for 20,000 articles). Segmentation runs on the flow's worker processes when its process pool is running.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass

import duckdb

from newsetl.config import ReportingConfig
from newsetl.reporting.dedup import DedupSettings, refresh_story_clusters
from newsetl.reporting.keywords import refresh_documents
from newsetl.reporting.segment import warm_up
from newsetl.runtime.worker_pool import current_pool, on_each_worker
from newsetl.warehouse.keywords import one_thread


@dataclass(slots=True)
class AnalyticsSummary:
    articles: int
    hashed: int               # articles whose MinHash signature was (re)computed
    segmented: int            # articles whose text was (re)segmented
    stories: int
    duplicate_stories: int
    duplicate_articles: int
    indexed: int              # search documents added to, removed from or rewritten in the search index
    seconds: float
    cpu_seconds: float = 0.0  # this process's CPU time during the refresh (all its threads; not the workers')

    def to_dict(self) -> dict:
        return asdict(self)


def dedup_settings(config: ReportingConfig) -> DedupSettings:
    return DedupSettings(threshold=config.dedup_threshold, shingle_size=config.shingle_size,
                         num_perm=config.num_perm, min_chars=config.min_chars)


def warm_workers() -> list[Future]:
    """Load the segmenter on the worker processes now, if they are running (the load used them).

    Called before the image URL registration, which keeps one core busy in this process (1.5 s for 20k
    posts) while the workers sit idle, so the analytics step's first chunks do not wait for each worker's
    dictionary. 20k posts, 3 rounds alternating (12:58-13:05 UTC, load 2.1-2.3, instrumented): the step's
    first chunk came 0.36-0.41 s after it began instead of 0.46-0.60 s, and it waited for the workers 0.59-0.61 s
    in all instead of 0.75-0.95 s. The step's own time varies more than that from run to run.
    """
    return on_each_worker(warm_up)


def refresh_analytics(con: duckdb.DuckDBPyConnection, config: ReportingConfig,
                      parallel: bool = True) -> AnalyticsSummary:
    """Bring story_clusters, search_documents/article_tokens and the search index up to date.

    `parallel`: segment on the shared worker pool if one is running (the process runner's); else here.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    pool = current_pool() if parallel else None
    settings = dedup_settings(config)
    with one_thread(con):  # the workers segment meanwhile: DuckDB's second thread cost more CPU than it saved
        documents = refresh_documents(con, pool, sign=settings)  # one read of each text: segmented and signed
        stats = refresh_story_clusters(con, settings, pool, hashed_before=documents.signed, bands=documents.bands)
    return AnalyticsSummary(
        articles=stats.articles, hashed=stats.hashed, segmented=documents.segmented, stories=stats.stories,
        duplicate_stories=stats.duplicate_stories, duplicate_articles=stats.duplicate_articles,
        indexed=documents.indexed, seconds=round(time.perf_counter() - started, 3),
        cpu_seconds=round(time.process_time() - cpu_started, 3),
    )
