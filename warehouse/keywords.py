"""`search_documents` and the keyword tokens: segmented text for full-text search, tokens for TF-IDF.

The tokens are stored by number (`search_index_keywords`: docid, termid, tf; migration 016) and named by the
view `article_tokens` (article_id, term, tf). As two strings per row, a 20k-post first run's 4.4M token rows
took ~1.8 s of the analytics step's CPU to insert and commit; by number ~0.7 s.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import duckdb
import pyarrow as pa

from newsetl.warehouse.db import cursor, staged
from newsetl.warehouse.search import TermIds, stale_documents
from newsetl.warehouse.text_schemas import ARTICLE_TOKENS_SCHEMA, SEARCH_DOCUMENTS_SCHEMA

__all__ = ["ARTICLE_TOKENS_SCHEMA", "SEARCH_DOCUMENTS_SCHEMA", "drop_orphans", "one_thread", "stale_count",
           "stale_texts", "write_documents", "write_tokens"]


@contextmanager
def one_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB runs the block's statements on the calling thread only (`threads` = 1), then as before.

    For the analytics writes: with two threads DuckDB's parallel batch insert spent 40-60 % more CPU on the same
    rows (row groups written per thread, then merged), CPU the worker processes segmenting meanwhile need.
    """
    before = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(before)}")


def drop_orphans(con: duckdb.DuckDBPyConnection) -> int:
    """Delete the documents of articles that no longer exist; returns how many went. Their index rows and
    tokens go with `search.drop_orphans`, which must run next (in the same transaction)."""
    return con.execute(
        "DELETE FROM search_documents WHERE article_id NOT IN (SELECT article_id FROM articles)").fetchone()[0]


# Articles without an up-to-date search document: what `stale_texts` reads and `stale_count` counts.
_STALE_ARTICLES = """
    FROM articles AS a LEFT JOIN search_documents AS s USING (article_id)
    WHERE s.article_id IS NULL OR s.content_hash <> a.content_hash
"""


def stale_texts(con: duckdb.DuckDBPyConnection, batch: int) -> Iterator[pa.RecordBatch]:
    """(article_id, content_hash, title, body, documented) record batches of the articles without an up-to-date
    search document, about `batch` rows each, in one pass over `articles` (no order); title and body are '' for
    NULL; `documented`: the article has a search document (an outdated one), so writing it replaces rows.

    Arrow batches, not Python rows: they cross to the worker processes as buffers (pickling 20,000 rows of
    Python strings cost the flow process ~0.5 s), and the workers make the Python strings they segment.
    Read through a second connection (a cursor), whose snapshot is taken when the query starts, so the caller
    can write and commit between batches. One scan: reading chunk by chunk with a join per chunk scanned the
    articles' texts once per chunk, which grows with the square of the corpus.
    """
    reader = cursor(con)
    try:
        result = reader.execute(
            "SELECT a.article_id, a.content_hash, coalesce(a.title, '') AS title, coalesce(a.body_text, '') AS body, "
            "s.article_id IS NOT NULL AS documented" + _STALE_ARTICLES
        ).to_arrow_reader(batch)
        for record_batch in result:
            if record_batch.num_rows:
                yield record_batch
    finally:
        reader.close()


def stale_count(con: duckdb.DuckDBPyConnection) -> int:
    """How many articles `stale_texts` yields."""
    return con.execute("SELECT count(*)" + _STALE_ARTICLES).fetchone()[0]


def write_documents(con: duckdb.DuckDBPyConnection, docs: pa.Table, replacing: bool = True) -> set[str]:
    """Replace the search documents in `docs`.

    `replacing=False`: the caller knows none of these articles has a search document (`stale_texts`'
    `documented`), so there is nothing to look up or delete (a first run's chunks).

    Returns the article ids whose search-index rows must be rewritten: documents new to the index or segmented
    differently than before (a changed content hash with the same segmented text leaves the index valid).
    """
    with staged(con, "new_docs", docs):
        had = replacing and con.execute("SELECT count(*) FROM search_documents WHERE article_id IN "
                                        "(SELECT article_id FROM new_docs)").fetchone()[0]
        # None of these articles had a document, so none is in the index either (the index holds only
        # documents of `search_documents`, written with them): all are new to it (a first run's case).
        reindex = stale_documents(con, "new_docs") if had else set(docs.column("article_id").to_pylist())
        if had:
            con.execute("DELETE FROM search_documents WHERE article_id IN (SELECT article_id FROM new_docs)")
        con.execute("INSERT INTO search_documents SELECT * FROM new_docs")
    return reindex


def write_tokens(con: duckdb.DuckDBPyConnection, docids: pa.Array, tokens: pa.Table, terms: TermIds,
                 replacing: bool = True) -> None:
    """Replace the keyword tokens of a chunk's documents, once they are indexed (`search.index_documents`).

    `docids`: the docid of each of the chunk's documents, in their order; `tokens` (`TOKENS_WIRE_SCHEMA`) name
    their document by that position (the indices of the dictionary-encoded `article_id`) and their term as a
    dictionary-encoded string, numbered here by `terms` (unseen terms are added to the dictionary).
    `replacing=False`: none of the documents had tokens (a first run's chunks): nothing to delete.
    """
    rows = pa.table({
        "docid": docids.take(tokens.column("article_id").combine_chunks().indices),
        "termid": terms.ids(con, tokens.column("term").combine_chunks()),
        "tf": tokens.column("tf"),
    })
    with staged(con, "new_keywords", rows):
        if replacing:  # reindexed documents lost theirs with their old docid (search.index_documents)
            with staged(con, "chunk_docids", pa.table({"docid": docids})):
                con.execute("DELETE FROM search_index_keywords WHERE docid IN (SELECT docid FROM chunk_docids)")
        con.execute("INSERT INTO search_index_keywords SELECT docid, termid, tf FROM new_keywords")
