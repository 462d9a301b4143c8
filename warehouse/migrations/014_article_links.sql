-- Issue 13: what each Hexo article's `{% post_link %}` / `{% post_path %}` tags named, and the title and URL
-- each name resolved to when the article was rendered (NULL: no such post then). When a named post's title
-- or URL changes, the articles that show it are rendered again in the same run, as Hexo regenerates them.

CREATE TABLE article_links (
    source   VARCHAR NOT NULL,
    locator  VARCHAR NOT NULL,   -- the linking article's file
    target   VARCHAR NOT NULL,   -- the slug (or title) its tag names, as written
    title    VARCHAR,            -- the named post's title the article was rendered with
    url      VARCHAR,            -- ... and its URL (the href; NULL without one)
    PRIMARY KEY (source, locator, target)
);
