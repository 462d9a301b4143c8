-- The full-text search index, kept up to date document by document by the analytics step (warehouse/search.py)
-- instead of DuckDB fts's `create_fts_index`, which rebuilt the whole index whenever one document changed.
-- The BM25 macro `fts_main_search_documents.match_bm25` (warehouse/search.py, created on every writer connect)
-- scores over these tables exactly as the fts extension's macro of that name did over its own tables.

-- One row per search document: its length in terms (title and body), as fts's `docs.len`.
CREATE TABLE search_index_docs (
    docid      BIGINT NOT NULL,            -- assigned when the document is (re)indexed
    article_id VARCHAR NOT NULL,
    len        BIGINT NOT NULL
);

-- Every term ever indexed, numbered 0, 1, 2, ... in the order first seen (never removed; df is counted live).
CREATE TABLE search_index_dict (
    termid BIGINT NOT NULL,
    term   VARCHAR NOT NULL
);

-- Term frequencies per document and field: fts's `terms` table (one row per occurrence), counted.
CREATE TABLE search_index_terms (
    docid  BIGINT NOT NULL,
    field  UTINYINT NOT NULL,              -- 0: search_documents.title_terms, 1: body_terms
    termid BIGINT NOT NULL,
    tf     INTEGER NOT NULL
);

-- The fts extension's index (every term occurrence again, rebuilt in full after any change) is no longer used.
DROP SCHEMA IF EXISTS fts_main_search_documents CASCADE;

-- Documents segmented by an earlier version are segmented and indexed again by the next analytics refresh.
UPDATE search_documents SET content_hash = '';
