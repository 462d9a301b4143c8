-- Issue 12a: stable identity for ad-hoc paths, and image paths that do not depend on the config's folder.

-- The folder each ad-hoc source (`newsetl ingest PATH`) was rooted at. A later PATH inside a recorded root is
-- that source (same name, locators relative to the same root), so a parent and a child folder of one
-- archive give the same article ids in any order (flows/ingest.py `sources_for_paths`).
CREATE TABLE source_roots (
    root          VARCHAR PRIMARY KEY,     -- absolute folder path
    source        VARCHAR NOT NULL,        -- the source name its articles carry
    first_seen_at TIMESTAMPTZ NOT NULL
);

-- Stored image paths are relative to images.store (ab/cd/<sha256>[.<thumb>].<ext>); they were prefixed with
-- the store folder as seen from the config's folder, so another config (or none) made every file look missing.
UPDATE images SET path = regexp_extract(path, '([0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}[^/]*)$', 1)
WHERE regexp_matches(path, '(^|/)[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}[^/]*$');
UPDATE image_thumbnails SET path = regexp_extract(path, '([0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}[^/]*)$', 1)
WHERE regexp_matches(path, '(^|/)[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}[^/]*$');
