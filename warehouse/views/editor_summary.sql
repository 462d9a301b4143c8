-- One row per responsible editor (责任编辑 line of the article).
CREATE OR REPLACE VIEW editor_summary AS
SELECT
    editor,
    count(*) AS articles,
    list(DISTINCT source ORDER BY source) AS sources,
    min(published_at) AS first_published,
    max(published_at) AS last_published,
    round(avg(char_count), 1) AS avg_chars
FROM articles
WHERE editor IS NOT NULL
GROUP BY editor;
