-- Keyword tokens per UTC day: how many articles used the term that day, and how often.
CREATE OR REPLACE VIEW keyword_trends AS
SELECT
    CAST(timezone('UTC', a.published_at) AS DATE) AS day,
    t.term,
    count(*) AS articles,
    sum(t.tf) AS occurrences
FROM article_tokens AS t
JOIN articles AS a USING (article_id)
WHERE a.published_at IS NOT NULL
GROUP BY day, t.term;
