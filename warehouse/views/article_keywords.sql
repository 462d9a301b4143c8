-- The 10 highest TF-IDF terms of each article. tfidf = tf / keyword_terms * (ln((1 + N) / (1 + df)) + 1),
-- N = articles with a search document, df = articles containing the term.
CREATE OR REPLACE VIEW article_keywords AS
WITH corpus AS (
    SELECT count(*) AS documents FROM search_documents
),
document_frequency AS (
    SELECT term, count(*) AS df FROM article_tokens GROUP BY term
),
scored AS (
    SELECT
        t.article_id,
        t.term,
        t.tf,
        d.df,
        t.tf / s.keyword_terms * (ln((1 + corpus.documents) / (1 + d.df)) + 1) AS tfidf
    FROM article_tokens AS t
    JOIN search_documents AS s USING (article_id)
    JOIN document_frequency AS d USING (term)
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
