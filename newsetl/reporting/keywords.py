"""Segmented text and keyword tokens: `search_documents` (for full-text search) and `article_tokens` (TF-IDF).

Only new or changed articles (by content hash) are segmented again; rows of deleted articles are dropped.
A body shared by several articles (reposts) is segmented once per refresh (a bounded cache of recent bodies).
"""

from __future__ import annotations

from collections import Counter, OrderedDict

import duckdb
import pyarrow as pa

from newsetl.reporting.text import keyword_terms, search_terms

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
    docs = {"article_id": [], "content_hash": [], "title_terms": [], "body_terms": [], "keyword_terms": []}
    tokens = {"article_id": [], "term": [], "tf": []}
    for article_id, content_hash, title, body in rows:
        body_terms, body_keywords = bodies.get(body)
        counts = Counter(keyword_terms(title))
        counts.update(body_keywords)
        docs["article_id"].append(article_id)
        docs["content_hash"].append(content_hash)
        docs["title_terms"].append(" ".join(search_terms(title)))
        docs["body_terms"].append(body_terms)
        docs["keyword_terms"].append(sum(counts.values()))
        for term, tf in counts.items():
            tokens["article_id"].append(article_id)
            tokens["term"].append(term)
            tokens["tf"].append(tf)
    return pa.table(docs), pa.table(tokens, schema=pa.schema(
        [("article_id", pa.string()), ("term", pa.string()), ("tf", pa.int32())]))


def refresh_tokens(con: duckdb.DuckDBPyConnection) -> int:
    """Bring `search_documents` and `article_tokens` up to date with `articles`; returns articles segmented."""
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ("search_documents", "article_tokens"):
            con.execute(f"DELETE FROM {table} WHERE article_id NOT IN (SELECT article_id FROM articles)")
        stale = con.execute(
            """
            SELECT a.article_id, a.content_hash, coalesce(a.title, ''), coalesce(a.body_text, '')
            FROM articles AS a LEFT JOIN search_documents AS s USING (article_id)
            WHERE s.article_id IS NULL OR s.content_hash <> a.content_hash
            ORDER BY a.article_id
            """
        ).fetchall()
        bodies = _BodyCache()
        for start in range(0, len(stale), CHUNK):
            docs, tokens = _segment(stale[start:start + CHUNK], bodies)
            con.register("new_docs", docs)
            con.register("new_tokens", tokens)
            try:
                con.execute("DELETE FROM search_documents WHERE article_id IN (SELECT article_id FROM new_docs)")
                con.execute("DELETE FROM article_tokens WHERE article_id IN (SELECT article_id FROM new_docs)")
                con.execute("INSERT INTO search_documents SELECT * FROM new_docs")
                con.execute("INSERT INTO article_tokens SELECT * FROM new_tokens")
            finally:
                con.unregister("new_docs")
                con.unregister("new_tokens")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(stale)
