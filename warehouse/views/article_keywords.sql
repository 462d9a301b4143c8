-- The 10 highest TF-IDF terms of each article. tfidf = tf / keyword_terms * (ln((1 + N) / (1 + df)) + 1),
-- N = articles with a search document, df = articles containing the term.
-- Over the stored keyword tokens (search_index_keywords: document and term by number), as `article_tokens` names them.
CREATE OR REPLACE VIEW article_keywords AS
WITH corpus AS (
    SELECT count(*) AS documents FROM search_documents
),
document_frequency AS (
    SELECT termid, count(*) AS df FROM search_index_keywords GROUP BY termid
),
scored AS (
    SELECT
        d.article_id,
        x.term,
        k.tf,
        f.df,
        k.tf / s.keyword_terms * (ln((1 + corpus.documents) / (1 + f.df)) + 1) AS tfidf
    FROM search_index_keywords AS k
    JOIN search_index_docs AS d USING (docid)
    JOIN search_documents AS s USING (article_id)
    JOIN document_frequency AS f USING (termid)
    JOIN search_index_dict AS x USING (termid)
    CROSS JOIN corpus
)
SELECT
    article_id,
    term,
    tf,
    df,
    round(tfidf, 6) AS tfidf,
    row_number() OVER (PARTITION BY article_id ORDER BY tfidf DESC, term) AS rank
FROM scored
QUALIFY rank <= 10;
