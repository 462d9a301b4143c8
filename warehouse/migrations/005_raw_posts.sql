-- Raw input of remote articles (feed items, post files fetched by URL) as parsed, before cleaning, so
-- `newsetl backfill` / `reprocess` can clean and reload them again without fetching anything.

CREATE TABLE raw_posts (
    article_id  VARCHAR PRIMARY KEY,
    source      VARCHAR NOT NULL,
    source_type VARCHAR NOT NULL,          -- feed | post_urls
    locator     VARCHAR NOT NULL,
    post        VARCHAR NOT NULL,          -- the ParsedPost as JSON (newsetl/raw_cache.py)
    stored_at   TIMESTAMPTZ NOT NULL
);
