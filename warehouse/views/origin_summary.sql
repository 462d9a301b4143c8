-- One row per origin (the outlet an article says it comes from, e.g. 来源：中国证券报).
CREATE OR REPLACE VIEW origin_summary AS
SELECT
    origin,
    count(*) AS articles,
    list(DISTINCT source ORDER BY source) AS sources,
    min(published_at) AS first_published,
    max(published_at) AS last_published,
    round(avg(char_count), 1) AS avg_chars
FROM articles
WHERE origin IS NOT NULL
GROUP BY origin;
