"""The analytics refresh (after load): duplicate stories, keyword tokens and the full-text search index.

Incremental: only articles whose content hash changed are hashed and segmented again (a text shared by reposts
once), and only their search documents are rewritten in the search index (added, removed or segmented
differently). Clusters are rebuilt from the stored signatures when a signature changed (no text: well under a
second for 20,000 articles). Segmentation runs on the flow's worker processes when its process pool is running.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import duckdb

from newsetl.config import ReportingConfig
from newsetl.reporting.dedup import DedupSettings, refresh_story_clusters
from newsetl.reporting.keywords import StartedRefresh, refresh_documents, start_documents
from newsetl.runtime.worker_pool import current_pool
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


class AnalyticsAhead:
    """The analytics refresh's first half, done before the steps between the load and analytics: the stale
    articles counted and their first chunks handed to the workers (`start_analytics`). A plain class: it is the
    analytics task's parameter, and Prefect looks inside dataclass parameters for futures."""

    def __init__(self, documents: StartedRefresh, pool: ProcessPoolExecutor | None, seconds: float,
                 cpu_seconds: float) -> None:
        self.documents, self.pool, self.seconds, self.cpu_seconds = documents, pool, seconds, cpu_seconds


def start_analytics(con: duckdb.DuckDBPyConnection, config: ReportingConfig, parallel: bool = True) -> AnalyticsAhead:
    """Count what the refresh must segment and hand its first chunks to the worker processes, now.

    The ingest calls it before the image URL registration, which keeps one core busy in this process (1.3-1.5 s
    for 20k posts) while the workers sit idle; they segment and sign the first chunks meanwhile, so the analytics
    step starts writing at once instead of waiting for them. Its time counts in the step's (`seconds`).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    pool = current_pool() if parallel else None
    with one_thread(con):
        documents = start_documents(con, pool, sign=dedup_settings(config))
    return AnalyticsAhead(documents, pool, time.perf_counter() - started, time.process_time() - cpu_started)


def refresh_analytics(con: duckdb.DuckDBPyConnection, config: ReportingConfig, parallel: bool = True,
                      ahead: AnalyticsAhead | None = None) -> AnalyticsSummary:
    """Bring story_clusters, search_documents/article_tokens and the search index up to date.

    `parallel`: segment on the shared worker pool if one is running (the process runner's); else here.
    `ahead`: `start_analytics` ran already (with the same `config` and `parallel`).
    """
    ahead = ahead or start_analytics(con, config, parallel)
    started, cpu_started = time.perf_counter() - ahead.seconds, time.process_time() - ahead.cpu_seconds
    settings = dedup_settings(config)
    with one_thread(con):  # the workers segment meanwhile: DuckDB's second thread cost more CPU than it saved
        documents = refresh_documents(con, started=ahead.documents)  # one read of each text: segmented and signed
        stats = refresh_story_clusters(con, settings, ahead.pool, hashed_before=documents.signed,
                                       bands=documents.bands)
    return AnalyticsSummary(
        articles=stats.articles, hashed=stats.hashed, segmented=documents.segmented, stories=stats.stories,
        duplicate_stories=stats.duplicate_stories, duplicate_articles=stats.duplicate_articles,
        indexed=documents.indexed, seconds=round(time.perf_counter() - started, 3),
        cpu_seconds=round(time.process_time() - cpu_started, 3),
    )
