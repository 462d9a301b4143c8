-- Images: the content-addressed catalogue, one fetch record per URL, and the link from article_images.

-- One row per distinct image content (sha256 of the bytes). The file is at `path` (the images.store root
-- joined with ab/cd/<sha256>.<ext>, relative to the config folder when it lies inside it).
CREATE TABLE images (
    sha256        VARCHAR PRIMARY KEY,
    format        VARCHAR NOT NULL,        -- JPEG | PNG | GIF | WEBP | BMP | TIFF | ICO | AVIF (from the bytes)
    mime_type     VARCHAR NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    mode          VARCHAR,                 -- Pillow mode: RGB, RGBA, L, P, CMYK ...
    frames        INTEGER NOT NULL,        -- > 1 for animated GIF / WebP
    bytes         BIGINT NOT NULL,
    path          VARCHAR NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL
);

-- One row per image URL (data: URIs keyed as data:<type>;sha256=<hash of the URI>).
CREATE TABLE image_fetches (
    url           VARCHAR PRIMARY KEY,
    host          VARCHAR,                 -- lower-case host; (data) for data: URIs
    status        VARCHAR NOT NULL,        -- ok | failed | skipped | pending
    http_status   INTEGER,
    reason        VARCHAR,                 -- short category of the error: http_404, timeout, not_image, blocked ...
    error         VARCHAR,                 -- one line for people
    sha256        VARCHAR,                 -- the stored image, when status = ok
    attempts      INTEGER NOT NULL DEFAULT 0,  -- runs that tried this URL since it last succeeded (incl. that one)
    tries         INTEGER,                 -- HTTP tries in the last run (retries included)
    etag          VARCHAR,
    last_modified VARCHAR,
    content_type  VARCHAR,                 -- as the server declared it (not trusted, kept for diagnosis)
    final_url     VARCHAR,                 -- after redirects
    redirects     INTEGER,
    elapsed_ms    INTEGER,
    fetched_at    TIMESTAMPTZ,             -- last time bytes were downloaded
    checked_at    TIMESTAMPTZ,             -- last time the URL was tried or revalidated
    first_seen_at TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR
);

-- Derivatives written next to the original in the store.
CREATE TABLE image_thumbnails (
    sha256 VARCHAR NOT NULL,
    name   VARCHAR NOT NULL,
    width  INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes  BIGINT NOT NULL,
    path   VARCHAR NOT NULL,
    PRIMARY KEY (sha256, name)
);

ALTER TABLE article_images ADD COLUMN fetch_url VARCHAR;  -- image_fetches.url for this reference
ALTER TABLE article_images ADD COLUMN sha256 VARCHAR;     -- images.sha256; null until the image is stored

ALTER TABLE ingest_runs ADD COLUMN kind VARCHAR DEFAULT 'ingest';  -- ingest | images
ALTER TABLE ingest_runs ADD COLUMN images_fetched INTEGER DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN images_reused INTEGER DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN images_revalidated INTEGER DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN images_failed INTEGER DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN images_skipped INTEGER DEFAULT 0;
