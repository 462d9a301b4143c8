-- Keyword tokens per UTC day: how many articles used the term that day, and how often.
-- Over the stored keyword tokens (search_index_keywords: document and term by number), as `article_tokens` names them.
CREATE OR REPLACE VIEW keyword_trends AS
SELECT
    CAST(timezone('UTC', a.published_at) AS DATE) AS day,
    x.term,
    count(*) AS articles,
    sum(k.tf) AS occurrences
FROM search_index_keywords AS k
JOIN search_index_docs AS d USING (docid)
JOIN articles AS a USING (article_id)
JOIN search_index_dict AS x USING (termid)
WHERE a.published_at IS NOT NULL
GROUP BY day, x.term;
