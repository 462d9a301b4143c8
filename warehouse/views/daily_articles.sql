-- Articles per UTC day x source x category. An article counts once under each of its categories; articles
-- without categories have category NULL, articles without a date have day NULL.
CREATE OR REPLACE VIEW daily_articles AS
WITH per_category AS (
    SELECT
        CAST(timezone('UTC', published_at) AS DATE) AS day,
        source,
        unnest(CASE WHEN len(categories) > 0 THEN categories ELSE [NULL::VARCHAR] END) AS category,
        char_count,
        image_count
    FROM articles
)
SELECT day, source, category, count(*) AS articles, sum(char_count) AS chars, sum(image_count) AS images
FROM per_category
GROUP BY day, source, category;
