-- One row per source: volume, date range, average length, image rate and reject rate. `rejected` counts the
-- distinct inputs of the source that were rejected and have no article now; reject_rate is
-- rejected / (articles + rejected).
CREATE OR REPLACE VIEW source_summary AS
WITH loaded AS (
    SELECT
        source,
        count(*) AS articles,
        min(published_at) AS first_published,
        max(published_at) AS last_published,
        round(avg(char_count), 1) AS avg_chars,
        round(avg(paragraph_count), 1) AS avg_paragraphs,
        count(*) FILTER (WHERE image_count > 0) AS articles_with_images,
        max(updated_at) AS last_updated
    FROM articles
    GROUP BY source
),
still_rejected AS (
    SELECT r.source, count(DISTINCT r.locator) AS rejected
    FROM rejects AS r
    WHERE NOT EXISTS (SELECT 1 FROM articles AS a WHERE a.source = r.source AND a.locator = r.locator)
    GROUP BY r.source
)
SELECT
    source,
    coalesce(l.articles, 0) AS articles,
    l.first_published,
    l.last_published,
    l.avg_chars,
    l.avg_paragraphs,
    coalesce(l.articles_with_images, 0) AS articles_with_images,
    round(coalesce(l.articles_with_images / l.articles, 0), 4) AS image_rate,
    coalesce(r.rejected, 0) AS rejected,
    round(coalesce(r.rejected, 0) / (coalesce(l.articles, 0) + coalesce(r.rejected, 0)), 4) AS reject_rate,
    l.last_updated
FROM loaded AS l
FULL OUTER JOIN still_rejected AS r USING (source);
