"""The full-text search index over `search_documents`: maintained document by document, scored with BM25.

Tables (migration 013): `search_index_docs` (docid, article_id, len), `search_index_dict` (termid, term) and
`search_index_terms` (docid, field, termid, tf). Only documents that were added, removed or segmented
differently are written, so a refresh costs what changed, not a rebuild of the whole index. The documents'
keyword tokens (`search_index_keywords`, migration 016; warehouse/keywords.py writes them) use the same docids
and dictionary, so they are removed here with the documents' index rows.

`fts_main_search_documents.match_bm25(article_id, query)` is the DuckDB fts extension's macro of that name
(read from `duckdb_functions()` after a `create_fts_index`), over these tables: the same terms (split on `\\s+`),
document length over both fields, df, DuckDB's `log` (base 10), k = 1.2, b = 0.75 and the same optional
`fields` / `conjunctive` arguments, so it gives the scores the fts index gave (tests/test_search_index.py
compares them with a real fts index built on the same documents). The fts extension is no longer loaded.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsetl.warehouse.db import staged

INDEX_SCHEMA = "fts_main_search_documents"  # the BM25 macro's schema (warehouse/macros/match_bm25.sql)

def has_index(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any document has been indexed (the analytics step has run)."""
    return con.execute("SELECT count(*) FROM (SELECT 1 FROM search_index_docs LIMIT 1)").fetchone()[0] > 0


class TermIds:
    """The index's term dictionary in memory (terms in termid order), extended as new terms are indexed."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        loaded = con.execute("SELECT term FROM search_index_dict ORDER BY termid").to_arrow_table()
        self.terms: pa.Array = loaded.column("term").combine_chunks().cast(pa.string())

    def ids(self, con: duckdb.DuckDBPyConnection, terms: pa.DictionaryArray) -> pa.Array:
        """The termid of each term (int64), adding unseen terms to `search_index_dict`."""
        return self._ids(con, terms.dictionary).take(terms.indices)

    def _ids(self, con: duckdb.DuckDBPyConnection, terms: pa.Array) -> pa.Array:
        found = pc.index_in(terms, value_set=self.terms)
        if found.null_count:
            new = pc.unique(terms.filter(found.is_null()))  # `terms` of a dictionary are distinct already
            start = len(self.terms)
            table = pa.table({"termid": pa.array(np.arange(start, start + len(new), dtype=np.int64)), "term": new})
            with staged(con, "new_terms", table):
                con.execute("INSERT INTO search_index_dict SELECT termid, term FROM new_terms")
            self.terms = pa.concat_arrays([self.terms, new.cast(pa.string())])
            found = pc.index_in(terms, value_set=self.terms)
        return found.cast(pa.int64())


def drop_orphans(con: duckdb.DuckDBPyConnection) -> int:
    """Remove documents from the index that are no longer in `search_documents`; returns how many."""
    gone = con.execute(
        "SELECT docid FROM search_index_docs WHERE article_id NOT IN (SELECT article_id FROM search_documents)"
    ).to_arrow_table()
    if gone.num_rows:
        _drop_docids(con, gone)
    return gone.num_rows


def _drop_docids(con: duckdb.DuckDBPyConnection, docids: pa.Table) -> None:
    """Remove these documents (a one-column `docid` table) from the index, with their keyword tokens."""
    with staged(con, "gone_docs", docids):
        for table in ("search_index_terms", "search_index_keywords", "search_index_docs"):
            con.execute(f"DELETE FROM {table} WHERE docid IN (SELECT docid FROM gone_docs)")


def stale_documents(con: duckdb.DuckDBPyConnection, docs: str) -> set[str]:
    """Article ids of the staged documents `docs` (article_id, title_terms, body_terms) the index must (re)read:
    not indexed yet, or segmented differently than the stored search document. Call before replacing those."""
    return {row[0] for row in con.execute(
        f"""
        SELECT n.article_id FROM {docs} AS n
        LEFT JOIN search_documents AS s USING (article_id)
        LEFT JOIN search_index_docs AS i USING (article_id)
        WHERE i.article_id IS NULL OR s.article_id IS NULL
           OR s.title_terms IS DISTINCT FROM n.title_terms OR s.body_terms IS DISTINCT FROM n.body_terms
        """
    ).fetchall()}


def index_documents(con: duckdb.DuckDBPyConnection, article_ids: pa.Array, postings: pa.Table,
                    lengths: np.ndarray, terms: TermIds, new: bool = False) -> pa.Array:
    """Replace the index rows of these documents (their keyword tokens go with their old rows); returns their
    new docids (int64, in their order). `postings` (doc, field, term, tf) refer to documents by their
    position in `article_ids`; `lengths` are their terms over both fields. `new`: the caller knows none of them
    is indexed (they had no search document), so no old rows are looked up."""
    if not len(article_ids):
        return pa.array([], type=pa.int64())
    if not new:
        _drop_indexed(con, article_ids)
    return _add_documents(con, article_ids, postings, lengths, terms)


def docids(con: duckdb.DuckDBPyConnection, article_ids: pa.Array) -> pa.Array:
    """The docid of each of these indexed documents (int64, in their order)."""
    with staged(con, "wanted_docs", pa.table({"article_id": article_ids})):
        found = con.execute("SELECT article_id, docid FROM search_index_docs WHERE article_id IN "
                            "(SELECT article_id FROM wanted_docs)").to_arrow_table()
    position = pc.index_in(article_ids, value_set=found.column("article_id"))
    if position.null_count:
        raise LookupError("a search document is not in the search index")  # the index holds every document
    return found.column("docid").combine_chunks().take(position)


def _drop_indexed(con: duckdb.DuckDBPyConnection, article_ids: pa.Array) -> None:
    """Remove the index rows of these documents, if they are indexed."""
    with staged(con, "reindexed", pa.table({"article_id": article_ids})):
        old = con.execute("SELECT docid FROM search_index_docs WHERE article_id IN "
                          "(SELECT article_id FROM reindexed)").to_arrow_table()
        if old.num_rows:  # documents indexed before (a first run has none: no scan of the postings)
            _drop_docids(con, old)


def _add_documents(con: duckdb.DuckDBPyConnection, article_ids: pa.Array, postings: pa.Table, lengths: np.ndarray,
                   terms: TermIds) -> pa.Array:
    """Index these documents (not indexed now) under new docids; returns them."""
    first = con.execute("SELECT coalesce(max(docid) + 1, 0) FROM search_index_docs").fetchone()[0]
    docids = np.arange(first, first + len(article_ids), dtype=np.int64)
    docs = pa.table({"docid": docids, "article_id": article_ids, "len": pa.array(lengths, type=pa.int64())})
    rows = pa.table({
        "docid": pa.array(docids).take(postings.column("doc")),
        "field": postings.column("field"),
        "termid": terms.ids(con, postings.column("term").combine_chunks()),
        "tf": postings.column("tf"),
    })
    with staged(con, "new_index_docs", docs), staged(con, "new_index_terms", rows):
        con.execute("INSERT INTO search_index_docs SELECT docid, article_id, len FROM new_index_docs")
        con.execute("INSERT INTO search_index_terms SELECT docid, field, termid, tf FROM new_index_terms")
    return docs.column("docid").combine_chunks()


def match(con: duckdb.DuckDBPyConnection, terms: list[str], *, sources: list[str] | None, since: date | None,
          limit: int) -> list[tuple]:
    """(article_id, score, published_at, source, title, url) of articles matching any term, best score first."""
    sql = f"""
        SELECT a.article_id, s.score, a.published_at, a.source, a.title, a.url
        FROM (
            SELECT article_id, {INDEX_SCHEMA}.match_bm25(article_id, ?) AS score FROM search_documents
        ) AS s
        JOIN articles AS a USING (article_id)
        WHERE s.score IS NOT NULL
    """
    params: list = [" ".join(terms)]
    if sources:
        sql += " AND a.source IN (SELECT unnest(?))"
        params.append(sources)
    if since:
        sql += " AND CAST(timezone('UTC', a.published_at) AS DATE) >= ?"  # UTC days, like the views
        params.append(since)
    sql += " ORDER BY s.score DESC, a.published_at DESC NULLS LAST, a.article_id LIMIT ?"
    params.append(limit)
    return con.execute(sql, params).fetchall()
