"""The analytics refresh (after load): duplicate stories, keyword tokens and the full-text search index.

Incremental: only articles whose content hash changed are hashed and segmented again (a text shared by reposts
once). Clusters are rebuilt from the stored signatures every time (no text: well under a second for 20,000
articles); the BM25 index only when a search document was added, removed or its segmented text changed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import duckdb

from newsetl.config import ReportingConfig
from newsetl.reporting.dedup import DedupSettings, refresh_story_clusters
from newsetl.reporting.keywords import refresh_documents
from newsetl.warehouse.search import has_index, rebuild_index


@dataclass(slots=True)
class AnalyticsSummary:
    articles: int
    hashed: int               # articles whose MinHash signature was (re)computed
    segmented: int            # articles whose text was (re)segmented
    stories: int
    duplicate_stories: int
    duplicate_articles: int
    index_rebuilt: bool
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def dedup_settings(config: ReportingConfig) -> DedupSettings:
    return DedupSettings(threshold=config.dedup_threshold, shingle_size=config.shingle_size,
                         num_perm=config.num_perm, min_chars=config.min_chars)


def refresh_analytics(con: duckdb.DuckDBPyConnection, config: ReportingConfig) -> AnalyticsSummary:
    """Bring story_clusters, search_documents/article_tokens and the search index up to date."""
    started = time.perf_counter()
    documents = refresh_documents(con)
    segmented = documents.segmented
    rebuild = documents.documents_changed > 0 or not has_index(con)
    if rebuild:
        rebuild_index(con)
    stats = refresh_story_clusters(con, dedup_settings(config))
    return AnalyticsSummary(
        articles=stats.articles, hashed=stats.hashed, segmented=segmented, stories=stats.stories,
        duplicate_stories=stats.duplicate_stories, duplicate_articles=stats.duplicate_articles,
        index_rebuilt=rebuild, seconds=round(time.perf_counter() - started, 3),
    )
