"""Segmented text and keyword tokens: `search_documents` (for full-text search) and `article_tokens` (TF-IDF).

Only new or changed articles (by content hash) are segmented again; rows of deleted articles are dropped.
A body shared by several articles (reposts) is segmented once per refresh (a bounded cache of recent bodies).
The SQL and the tables' Arrow schemas are in `newsetl.warehouse.keywords`.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from itertools import chain

import duckdb
import numpy as np
import pyarrow as pa

from newsetl.reporting.text import keyword_terms, search_terms
from newsetl.warehouse import keywords
from newsetl.warehouse.db import transaction

CHUNK = 2000
BODY_CACHE = 1000  # segmented bodies kept for reposts


class _BodyCache:
    """Segmentation of recently seen bodies: (search terms joined by spaces, keyword terms)."""

    def __init__(self, size: int = BODY_CACHE) -> None:
        self.size = size
        self.entries: OrderedDict[str, tuple[str, list[str]]] = OrderedDict()

    def get(self, body: str) -> tuple[str, list[str]]:
        entry = self.entries.get(body)
        if entry is None:
            # keyword_terms(title + "\n" + body) == keyword_terms(title) + keyword_terms(body): jieba never joins
            # across a line break, so the body part can be shared between articles.
            entry = self.entries[body] = (" ".join(search_terms(body)), keyword_terms(body))
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        else:
            self.entries.move_to_end(body)
        return entry


def _segment(rows: list[tuple[str, str, str, str]], bodies: _BodyCache | None = None) -> tuple[pa.Table, pa.Table]:
    """Search documents and keyword tokens for (article_id, content_hash, title, body) rows."""
    bodies = bodies or _BodyCache()
    title_terms, body_terms, keyword_counts, per_article = [], [], [], []
    for _, _, title, body in rows:
        body_search, body_keywords = bodies.get(body)
        counts = Counter(keyword_terms(title))
        counts.update(body_keywords)
        title_terms.append(" ".join(search_terms(title)))
        body_terms.append(body_search)
        keyword_counts.append(sum(counts.values()))
        per_article.append(counts)
    docs = pa.table({
        "article_id": [row[0] for row in rows],
        "content_hash": [row[1] for row in rows],
        "title_terms": title_terms,
        "body_terms": body_terms,
        "keyword_terms": keyword_counts,
    }, schema=keywords.SEARCH_DOCUMENTS_SCHEMA)
    ids = docs.column("article_id").combine_chunks()
    tokens = pa.table({
        "article_id": ids.take(np.repeat(np.arange(len(rows)), np.array([len(c) for c in per_article], dtype=np.int64))),
        "term": list(chain.from_iterable(per_article)),
        "tf": list(chain.from_iterable(c.values() for c in per_article)),
    }, schema=keywords.ARTICLE_TOKENS_SCHEMA)
    return docs, tokens


@dataclass(frozen=True)
class TokenRefresh:
    segmented: int           # articles (re)segmented
    documents_changed: int   # search documents added, removed, or whose segmented title/body changed


def refresh_documents(con: duckdb.DuckDBPyConnection) -> TokenRefresh:
    """Bring `search_documents` and `article_tokens` up to date with `articles` (one transaction).

    `documents_changed` tells whether the search index is stale: a changed content hash whose segmented text is
    the same (e.g. only metadata changed) leaves the index valid, a removed article does not (BM25 statistics).
    """
    with transaction(con):
        changed = keywords.drop_orphans(con)
        stale = keywords.stale_article_ids(con)
        keywords.drop_tokens(con, stale)  # old tokens of changed articles, in one pass
        bodies = _BodyCache()
        for start in range(0, len(stale), CHUNK):  # texts read a chunk at a time: memory flat in corpus size
            docs, tokens = _segment(keywords.article_texts(con, stale[start:start + CHUNK]), bodies)
            changed += keywords.write_documents(con, docs, tokens)
    return TokenRefresh(len(stale), changed)


def refresh_tokens(con: duckdb.DuckDBPyConnection) -> int:
    """Bring `search_documents` and `article_tokens` up to date with `articles`; returns articles segmented."""
    return refresh_documents(con).segmented
