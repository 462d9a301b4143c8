-- One row per story (near-duplicate group): how many articles and sources carried it and when it first appeared.
CREATE OR REPLACE VIEW stories AS
SELECT
    c.cluster_id,
    any_value(f.title) AS title,
    count(*) AS articles,
    count(DISTINCT a.source) AS source_count,
    list(DISTINCT a.source ORDER BY a.source) AS sources,
    any_value(f.source) AS first_source,
    any_value(f.published_at) AS first_published,
    max(a.published_at) AS last_published,
    min(a.first_seen_at) AS first_seen_at,
    round(min(c.similarity), 4) AS min_similarity
FROM story_clusters AS c
JOIN articles AS a ON a.article_id = c.article_id
JOIN articles AS f ON f.article_id = c.cluster_id
GROUP BY c.cluster_id;
