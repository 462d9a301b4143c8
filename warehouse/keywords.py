"""`search_documents` and `article_tokens`: segmented text for full-text search and keyword tokens for TF-IDF."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from newsetl.warehouse.db import staged

SEARCH_DOCUMENTS_SCHEMA = pa.schema([
    ("article_id", pa.string()),
    ("content_hash", pa.string()),
    ("title_terms", pa.string()),
    ("body_terms", pa.string()),
    ("keyword_terms", pa.int32()),
])
ARTICLE_TOKENS_SCHEMA = pa.schema([
    ("article_id", pa.string()),
    ("term", pa.string()),
    ("tf", pa.int32()),
])


def drop_orphans(con: duckdb.DuckDBPyConnection) -> int:
    """Delete documents and tokens of articles that no longer exist; returns how many documents went."""
    removed = con.execute(
        "DELETE FROM search_documents WHERE article_id NOT IN (SELECT article_id FROM articles)").fetchone()[0]
    if removed:  # tokens are written with their document, in one transaction: no document gone, no token orphan
        con.execute("DELETE FROM article_tokens WHERE article_id NOT IN (SELECT article_id FROM articles)")
    return removed


def stale_articles(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str]]:
    """(article_id, content_hash, title, body text) of articles without an up-to-date search document."""
    return con.execute(
        """
        SELECT a.article_id, a.content_hash, coalesce(a.title, ''), coalesce(a.body_text, '')
        FROM articles AS a LEFT JOIN search_documents AS s USING (article_id)
        WHERE s.article_id IS NULL OR s.content_hash <> a.content_hash
        ORDER BY a.article_id
        """
    ).fetchall()


def stale_article_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The ids of `stale_articles`, in the same order (read their texts a chunk at a time with `article_texts`)."""
    return [row[0] for row in con.execute(
        """
        SELECT a.article_id
        FROM articles AS a LEFT JOIN search_documents AS s USING (article_id)
        WHERE s.article_id IS NULL OR s.content_hash <> a.content_hash
        ORDER BY a.article_id
        """
    ).fetchall()]


def article_texts(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> list[tuple[str, str, str, str]]:
    """(article_id, content_hash, title, body text) of these articles, ordered by article_id."""
    with staged(con, "text_ids", pa.table({"article_id": pa.array(article_ids, type=pa.string())})):
        return con.execute(
            """
            SELECT a.article_id, a.content_hash, coalesce(a.title, ''), coalesce(a.body_text, '')
            FROM articles AS a JOIN text_ids USING (article_id)
            ORDER BY a.article_id
            """
        ).fetchall()


def drop_tokens(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> None:
    """Delete the keyword tokens of these articles (one pass over article_tokens)."""
    with staged(con, "stale_ids", pa.table({"article_id": pa.array(article_ids, type=pa.string())})):
        con.execute("DELETE FROM article_tokens WHERE article_id IN (SELECT article_id FROM stale_ids)")


def write_documents(con: duckdb.DuckDBPyConnection, docs: pa.Table, tokens: pa.Table) -> int:
    """Replace the search documents in `docs` and add `tokens`; returns how many documents are new or have a
    different segmented title/body than before (the search index is stale when that is not 0)."""
    with staged(con, "new_docs", docs), staged(con, "new_tokens", tokens):
        changed = con.execute(
            """
            SELECT count(*) FROM new_docs AS n LEFT JOIN search_documents AS s USING (article_id)
            WHERE s.article_id IS NULL OR s.title_terms IS DISTINCT FROM n.title_terms
               OR s.body_terms IS DISTINCT FROM n.body_terms
            """
        ).fetchone()[0]
        con.execute("DELETE FROM search_documents WHERE article_id IN (SELECT article_id FROM new_docs)")
        con.execute("INSERT INTO search_documents SELECT * FROM new_docs")
        con.execute("INSERT INTO article_tokens SELECT * FROM new_tokens")
    return changed
