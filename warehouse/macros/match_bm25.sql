-- BM25 over the search index tables (migration 013), re-created on every writer connect (warehouse/db.py).
-- The DuckDB fts extension's macro of the same name and arguments, as `create_fts_index` generated it (read with
-- `SELECT macro_definition FROM duckdb_functions() WHERE function_name = 'match_bm25'`), over these tables: terms
-- split on `\s+`, document length over both fields, df over all fields, DuckDB's `log` (base 10), k = 1.2,
-- b = 0.75. Kept in fts's schema so user SQL such as `fts_main_search_documents.match_bm25(article_id, 'q')` works.
CREATE SCHEMA IF NOT EXISTS fts_main_search_documents;
CREATE OR REPLACE MACRO fts_main_search_documents.match_bm25(docname, query_string, fields := NULL, k := 1.2,
                                                             b := 0.75, conjunctive := 0) AS (
    WITH tokens AS (
        SELECT DISTINCT unnest(string_split_regex(CAST(query_string AS VARCHAR), '\s+')) AS t
    ),
    fieldids AS (
        SELECT fieldid FROM (VALUES (0, 'title_terms'), (1, 'body_terms')) AS f(fieldid, field)
        WHERE CASE WHEN fields IS NULL THEN 1
                   ELSE field = ANY(SELECT * FROM (SELECT unnest(string_split(fields, ',')))) END
    ),
    qtermids AS (
        SELECT termid FROM main.search_index_dict AS dict, tokens WHERE dict.term = tokens.t
    ),
    qterms AS (
        SELECT docid, field, termid, tf FROM main.search_index_terms
        WHERE termid IN (SELECT termid FROM qtermids)
    ),
    dfs AS (
        SELECT termid, count(DISTINCT docid) AS df FROM qterms GROUP BY termid
    ),
    term_tf AS (
        SELECT termid, docid, CAST(sum(tf) AS BIGINT) AS tf FROM qterms
        WHERE CASE WHEN fields IS NULL THEN 1 ELSE field IN (SELECT fieldid FROM fieldids) END
        GROUP BY docid, termid
    ),
    cdocs AS (
        SELECT docid FROM term_tf GROUP BY docid
        HAVING CASE WHEN conjunctive THEN count(DISTINCT termid) = (SELECT count(*) FROM tokens) ELSE 1 END
    ),
    stats AS (
        SELECT count(len) AS num_docs, sum(len) / count(len) AS avgdl FROM main.search_index_docs
    ),
    subscores AS (
        SELECT docs.docid, log(((((SELECT num_docs FROM stats) - df) + 0.5) / (df + 0.5)) + 1)
               * ((tf * (k + 1)) / (tf + (k * ((1 - b) + (b * (len / (SELECT avgdl FROM stats))))))) AS subscore
        FROM term_tf, cdocs, main.search_index_docs AS docs, dfs
        WHERE term_tf.docid = cdocs.docid AND term_tf.docid = docs.docid AND term_tf.termid = dfs.termid
    ),
    scores AS (
        SELECT docid, sum(subscore) AS score FROM subscores GROUP BY docid
    )
    SELECT score FROM scores, main.search_index_docs AS docs
    WHERE scores.docid = docs.docid AND docs.article_id = docname
);
