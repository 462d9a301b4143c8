-- Core tables: articles and their children, run bookkeeping, rejects and per-file ingest state.

CREATE TABLE articles (
    article_id      VARCHAR PRIMARY KEY,   -- stable: hash of source name + locator (never an absolute path)
    source          VARCHAR NOT NULL,
    source_type     VARCHAR NOT NULL,      -- hexo_dir | feed | post_urls
    locator         VARCHAR NOT NULL,      -- path relative to the source root, or URL / guid
    url             VARCHAR,
    title           VARCHAR,
    author          VARCHAR,
    published_at    TIMESTAMPTZ,
    categories      VARCHAR[],
    editor          VARCHAR,
    origin          VARCHAR,
    summary         VARCHAR,
    body_text       VARCHAR,
    body_html       VARCHAR,               -- sanitized: no scripts, styles, comments, iframes, boilerplate
    char_count      INTEGER,
    paragraph_count INTEGER,
    image_count     INTEGER,               -- distinct article images (promo/decoration not counted)
    content_hash    VARCHAR NOT NULL,      -- hash of the cleaned content: equal hash = unchanged article
    rules_version   VARCHAR,               -- version of the cleaning rules that produced this row
    first_seen_at   TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    run_id          VARCHAR NOT NULL       -- the run that last wrote this row
);

CREATE TABLE paragraphs (
    article_id VARCHAR NOT NULL,
    position   INTEGER NOT NULL,
    kind       VARCHAR NOT NULL,           -- text | heading | quote | list | caption
    text       VARCHAR NOT NULL
);

CREATE TABLE article_images (
    article_id VARCHAR NOT NULL,
    position   INTEGER NOT NULL,
    role       VARCHAR NOT NULL,           -- body | headimg | thumbnail | promo | decoration
    url        VARCHAR NOT NULL,
    alt        VARCHAR,
    caption    VARCHAR,
    roles      VARCHAR[]                   -- every role the URL had in the article (body, headimg, ...)
);

CREATE TABLE ingest_runs (
    run_id      VARCHAR PRIMARY KEY,
    flow_run_id VARCHAR,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status      VARCHAR NOT NULL,          -- running | completed | partial | failed
    discovered  INTEGER DEFAULT 0,
    new         INTEGER DEFAULT 0,
    updated     INTEGER DEFAULT 0,
    unchanged   INTEGER DEFAULT 0,
    rejected    INTEGER DEFAULT 0,
    sources     VARCHAR[],
    message     VARCHAR
);

CREATE TABLE rejects (
    run_id  VARCHAR NOT NULL,
    source  VARCHAR NOT NULL,
    locator VARCHAR NOT NULL,
    stage   VARCHAR NOT NULL,              -- discover | read | parse | clean | load
    error   VARCHAR NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL
);

-- What each input file looked like when last ingested: the incremental skip reads this.
CREATE TABLE source_files (
    source      VARCHAR NOT NULL,
    locator     VARCHAR NOT NULL,
    file_hash   VARCHAR NOT NULL,
    size        BIGINT,
    article_id  VARCHAR,
    status      VARCHAR NOT NULL,          -- loaded | rejected
    run_id      VARCHAR NOT NULL,
    seen_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, locator)
);
