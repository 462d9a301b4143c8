-- Per-URL fetch state of remote sources (feeds, post URLs, post lists): HTTP validators for conditional
-- requests, the outcome of the last fetch and what it yielded.

CREATE TABLE source_state (
    source          VARCHAR NOT NULL,      -- source name from the config
    url             VARCHAR NOT NULL,      -- the configured URL (before redirects)
    kind            VARCHAR NOT NULL,      -- feed | post_list | post_url
    final_url       VARCHAR,               -- where redirects ended on the last fetch
    etag            VARCHAR,               -- validators from the last successful (200) fetch
    last_modified   VARCHAR,
    last_status     INTEGER,               -- HTTP status of the last fetch; NULL when no response came
    last_outcome    VARCHAR NOT NULL,      -- fetched | not_modified | failed
    last_error      VARCHAR,               -- one-line reason when last_outcome = failed
    fetched_at      TIMESTAMPTZ NOT NULL,  -- when the last fetch was made
    changed_at      TIMESTAMPTZ,           -- when the last 200 with a body was received
    item_count      INTEGER,               -- items (or post URLs) in the last document received
    rejected_count  INTEGER,               -- of those, items that could not be parsed
    run_id          VARCHAR NOT NULL,
    PRIMARY KEY (source, url)
);
