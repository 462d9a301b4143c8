"""Segmented text and keyword tokens: `search_documents` (for full-text search) and `article_tokens` (TF-IDF).

Only new or changed articles (by content hash) are segmented again; rows of deleted articles are dropped.
A body shared by several articles (reposts) is segmented once per refresh (a bounded cache of recent bodies).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from itertools import chain

import duckdb
import numpy as np
import pyarrow as pa

from newsetl.reporting.text import keyword_terms, search_terms
from newsetl.warehouse.db import staged, transaction

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
        "article_id": pa.array([row[0] for row in rows], type=pa.string()),
        "content_hash": pa.array([row[1] for row in rows], type=pa.string()),
        "title_terms": pa.array(title_terms, type=pa.string()),
        "body_terms": pa.array(body_terms, type=pa.string()),
        "keyword_terms": pa.array(keyword_counts, type=pa.int32()),
    })
    ids = docs.column("article_id").combine_chunks()
    tokens = pa.table({
        "article_id": ids.take(np.repeat(np.arange(len(rows)), np.array([len(c) for c in per_article], dtype=np.int64))),
        "term": pa.array(list(chain.from_iterable(per_article)), type=pa.string()),
        "tf": pa.array(list(chain.from_iterable(c.values() for c in per_article)), type=pa.int32()),
    })
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
        changed = con.execute(
            "DELETE FROM search_documents WHERE article_id NOT IN (SELECT article_id FROM articles)").fetchone()[0]
        con.execute("DELETE FROM article_tokens WHERE article_id NOT IN (SELECT article_id FROM articles)")
        stale = con.execute(
            """
            SELECT a.article_id, a.content_hash, coalesce(a.title, ''), coalesce(a.body_text, '')
            FROM articles AS a LEFT JOIN search_documents AS s USING (article_id)
            WHERE s.article_id IS NULL OR s.content_hash <> a.content_hash
            ORDER BY a.article_id
            """
        ).fetchall()
        # Old tokens of changed articles go in one pass over article_tokens (not one per chunk).
        with staged(con, "stale_ids", pa.table({"article_id": pa.array([row[0] for row in stale], type=pa.string())})):
            con.execute("DELETE FROM article_tokens WHERE article_id IN (SELECT article_id FROM stale_ids)")
        bodies = _BodyCache()
        for start in range(0, len(stale), CHUNK):
            docs, tokens = _segment(stale[start:start + CHUNK], bodies)
            with staged(con, "new_docs", docs), staged(con, "new_tokens", tokens):
                changed += con.execute(
                    """
                    SELECT count(*) FROM new_docs AS n LEFT JOIN search_documents AS s USING (article_id)
                    WHERE s.article_id IS NULL OR s.title_terms IS DISTINCT FROM n.title_terms
                       OR s.body_terms IS DISTINCT FROM n.body_terms
                    """
                ).fetchone()[0]
                con.execute("DELETE FROM search_documents WHERE article_id IN (SELECT article_id FROM new_docs)")
                con.execute("INSERT INTO search_documents SELECT * FROM new_docs")
                con.execute("INSERT INTO article_tokens SELECT * FROM new_tokens")
    return TokenRefresh(len(stale), changed)


def refresh_tokens(con: duckdb.DuckDBPyConnection) -> int:
    """Bring `search_documents` and `article_tokens` up to date with `articles`; returns articles segmented."""
    return refresh_documents(con).segmented
