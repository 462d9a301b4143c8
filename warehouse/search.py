"""The full-text search index: DuckDB fts (BM25) over `search_documents`, built and queried here."""

from __future__ import annotations

from datetime import date
from importlib import resources

import duckdb

from newsetl.errors import NewsetlError

INDEX_SCHEMA = "fts_main_search_documents"
NO_CHARACTER = r"[^\s\S]"  # a regex class no character belongs to


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the fts extension from the pinned pip package (DuckDB cannot download extensions offline)."""
    try:
        con.execute("LOAD fts")
        return
    except duckdb.Error:
        pass
    path = resources.files("duckdb_extension_fts").joinpath(
        "extensions", f"v{duckdb.__version__}", "fts.duckdb_extension")
    try:
        con.execute(f"INSTALL '{path}'")
        con.execute("LOAD fts")
    except duckdb.Error as exc:
        raise NewsetlError(f"cannot load the DuckDB fts extension from {path}: {str(exc).splitlines()[0]}") from None


def has_index(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?", [INDEX_SCHEMA]).fetchone()[0])


def rebuild_index(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build the BM25 index; terms are already segmented and space-separated, so split on spaces only.

    fts tokenizes with `string_split_regex(regexp_replace(text, ignore, ' '), '\\s+')`. Splitting on whitespace
    is all we need, so `ignore` is a class that matches no character: the same terms as `ignore='\\s+'`
    (which only turned whitespace into a space before the split), without a second regex pass over every
    document (about half the tokenizing time).
    """
    load_fts(con)
    con.execute(
        "PRAGMA create_fts_index('search_documents', 'article_id', 'title_terms', 'body_terms', "
        f"stemmer='none', stopwords='none', ignore='{NO_CHARACTER}', strip_accents=0, lower=0, overwrite=1)"
    )


def match(con: duckdb.DuckDBPyConnection, terms: list[str], *, sources: list[str] | None, since: date | None,
          limit: int) -> list[tuple]:
    """(article_id, score, published_at, source, title, url) of articles matching any term, best score first."""
    load_fts(con)
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
