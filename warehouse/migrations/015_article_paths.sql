-- Issue 13: a Hexo post's href inside its site when the site has no `url:` (Hexo's url_for(post.path): the
-- site's `root` + the permalink path, percent-encoded). `{% post_link %}` / `{% post_path %}` link to it;
-- with `url:` they use articles.url and nothing is stored here.

CREATE TABLE article_paths (
    source   VARCHAR NOT NULL,
    locator  VARCHAR NOT NULL,
    href     VARCHAR NOT NULL,   -- e.g. /blog/2019/10/14/hexo-4-released/
    PRIMARY KEY (source, locator)
);
