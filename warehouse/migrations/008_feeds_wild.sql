-- Issue 14: feeds as they are in the wild, and metadata notes moved out of article text into columns.

ALTER TABLE articles ADD COLUMN byline VARCHAR;                    -- the writer named in the text (作者：…, 记者 …)
ALTER TABLE articles ADD COLUMN photo_credit VARCHAR;              -- the article's photo credit (题图来自：…, 图片来源：…)
ALTER TABLE articles ADD COLUMN headline_only BOOLEAN DEFAULT false;  -- a title (and link) without a body
ALTER TABLE articles ADD COLUMN repairs VARCHAR[];                 -- what the feed reader repaired: title from text/date, id from feed URL and content

ALTER TABLE article_images ADD COLUMN credit VARCHAR;              -- this image's photo credit (来源：… right after it)

-- Problems a feed had that did not stop its items from loading: a malformed document read anyway
-- (recovered), items repeating an earlier guid (duplicate guid), items repaired (repaired).
CREATE TABLE feed_warnings (
    run_id   VARCHAR NOT NULL,
    source   VARCHAR NOT NULL,
    url      VARCHAR NOT NULL,
    kind     VARCHAR NOT NULL,             -- recovered | duplicate guid | repaired
    count    INTEGER NOT NULL,             -- items concerned (recovered: items read from the document)
    message  VARCHAR NOT NULL,
    seen_at  TIMESTAMPTZ NOT NULL
);
