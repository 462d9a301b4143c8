"""`search_documents` and `article_tokens`: segmented text for full-text search and keyword tokens for TF-IDF."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from newsetl.warehouse.db import staged
from newsetl.warehouse.search import stale_documents
from newsetl.warehouse.text_schemas import ARTICLE_TOKENS_SCHEMA, SEARCH_DOCUMENTS_SCHEMA

__all__ = ["ARTICLE_TOKENS_SCHEMA", "SEARCH_DOCUMENTS_SCHEMA", "article_texts", "drop_orphans", "drop_tokens",
           "stale_article_ids", "stale_articles", "write_documents"]


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


def write_documents(con: duckdb.DuckDBPyConnection, docs: pa.Table, tokens: pa.Table) -> set[str]:
    """Replace the search documents in `docs` and the keyword tokens of their articles with `tokens`.

    Returns the article ids whose search-index rows must be rewritten: documents new to the index or segmented
    differently than before (a changed content hash with the same segmented text leaves the index valid).
    """
    with staged(con, "new_docs", docs), staged(con, "new_tokens", tokens):
        reindex = stale_documents(con, "new_docs")
        had = con.execute("SELECT count(*) FROM search_documents WHERE article_id IN "
                          "(SELECT article_id FROM new_docs)").fetchone()[0]
        if had:  # tokens are written with their document: no document before, no token to replace
            con.execute("DELETE FROM article_tokens WHERE article_id IN (SELECT article_id FROM new_docs)")
            con.execute("DELETE FROM search_documents WHERE article_id IN (SELECT article_id FROM new_docs)")
        con.execute("INSERT INTO search_documents SELECT * FROM new_docs")
        con.execute("INSERT INTO article_tokens SELECT * FROM new_tokens")
    return reindex
