"""Full-text search: BM25 over the segmented text in `search_documents` (the index is in `newsetl.warehouse.search`).

This module turns a query into terms and rows into hits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from newsetl.errors import NewsetlError, UsageError
from newsetl.reporting.text import query_terms
from newsetl.warehouse.search import has_index, match

__all__ = ["SearchHit", "has_index", "search"]


@dataclass(frozen=True)
class SearchHit:
    article_id: str
    score: float
    published_at: datetime | None
    source: str
    title: str | None
    url: str | None


def search(
    con: duckdb.DuckDBPyConnection,
    query: str,
    *,
    sources: list[str] | None = None,
    since: date | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Articles matching any term of the query, best BM25 score first."""
    terms = query_terms(query)
    if not terms:
        raise UsageError(f"search query {query!r} has no searchable terms")
    if not has_index(con):
        raise NewsetlError("the warehouse has no search index yet: run `newsetl ingest` first")
    return [SearchHit(*row) for row in match(con, terms, sources=sources, since=since, limit=limit)]
