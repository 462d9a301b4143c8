-- Reporting: derived tables refreshed by the analytics task after each load, and the views analysts query.
-- Days are UTC calendar days of published_at. Every view reads only tables, so it is always current.

-- ---------------------------------------------------------------------------------------------------------
-- Derived tables (written by tasks/analytics.py; safe to rebuild from articles at any time)
-- ---------------------------------------------------------------------------------------------------------

-- MinHash signature of each article's normalised text, kept so unchanged articles are not re-hashed.
CREATE TABLE article_minhash (
    article_id   VARCHAR PRIMARY KEY,
    content_hash VARCHAR NOT NULL,          -- articles.content_hash the signature was computed from
    params       VARCHAR NOT NULL,          -- shingle size / num_perm / min chars used; a change forces a rehash
    signature    UINTEGER[]                 -- NULL when the text is too short to compare
);

-- Near-duplicate groups: every article belongs to exactly one story (a story of one when it has no duplicate).
CREATE TABLE story_clusters (
    cluster_id VARCHAR NOT NULL,            -- article_id of the story's first article (earliest published)
    article_id VARCHAR PRIMARY KEY,
    similarity DOUBLE NOT NULL              -- estimated Jaccard similarity to the first article (1.0 for itself)
);

-- Segmented title and body, one document per article: the table the full-text (BM25) index is built on.
CREATE TABLE search_documents (
    article_id   VARCHAR PRIMARY KEY,
    content_hash VARCHAR NOT NULL,          -- articles.content_hash the segmentation was computed from
    title_terms  VARCHAR,                   -- space-separated terms (jieba search mode)
    body_terms   VARCHAR,
    keyword_terms INTEGER NOT NULL          -- number of keyword tokens (sum of article_tokens.tf)
);

-- Keyword tokens of each article (title + body, jieba precise mode, stop words and 1-character terms left out).
CREATE TABLE article_tokens (
    article_id VARCHAR NOT NULL,
    term       VARCHAR NOT NULL,
    tf         INTEGER NOT NULL             -- occurrences of the term in the article
);

-- ---------------------------------------------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------------------------------------------

-- Articles per UTC day x source x category. An article counts once under each of its categories; articles
-- without categories have category NULL, articles without a date have day NULL.
CREATE VIEW daily_articles AS
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

-- One row per source: volume, date range, average length, image rate and reject rate. `rejected` counts the
-- distinct inputs of the source that were rejected and have no article now; reject_rate is
-- rejected / (articles + rejected).
CREATE VIEW source_summary AS
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

-- One row per responsible editor (责任编辑 line of the article).
CREATE VIEW editor_summary AS
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

-- One row per origin (the outlet an article says it comes from, e.g. 来源：中国证券报).
CREATE VIEW origin_summary AS
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

-- Ingest runs, newest first, with their duration and the rejects they recorded.
CREATE VIEW run_history AS
SELECT
    r.run_id,
    r.started_at,
    r.finished_at,
    round(epoch(r.finished_at) - epoch(r.started_at), 3) AS duration_seconds,
    r.status,
    r.discovered,
    r.new,
    r.updated,
    r.unchanged,
    r.rejected,
    (SELECT count(*) FROM rejects AS x WHERE x.run_id = r.run_id) AS reject_rows,
    r.sources,
    r.message
FROM ingest_runs AS r
ORDER BY r.started_at DESC;

-- One row per story (near-duplicate group): how many articles and sources carried it and when it first appeared.
CREATE VIEW stories AS
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

-- The 10 highest TF-IDF terms of each article. tfidf = tf / keyword_terms * (ln((1 + N) / (1 + df)) + 1),
-- N = articles with a search document, df = articles containing the term.
CREATE VIEW article_keywords AS
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

-- Keyword tokens per UTC day: how many articles used the term that day, and how often.
CREATE VIEW keyword_trends AS
SELECT
    CAST(timezone('UTC', a.published_at) AS DATE) AS day,
    t.term,
    count(*) AS articles,
    sum(t.tf) AS occurrences
FROM article_tokens AS t
JOIN articles AS a USING (article_id)
WHERE a.published_at IS NOT NULL
GROUP BY day, t.term;
