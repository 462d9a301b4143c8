-- Reporting: derived tables refreshed by the analytics step after each load. The views analysts query over them
-- are in warehouse/views/ (one file per view, re-applied by migrate() on every writer connect).

-- ---------------------------------------------------------------------------------------------------------
-- Derived tables (written by the analytics step through warehouse/stories.py and warehouse/keywords.py;
-- safe to rebuild from articles at any time)
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
