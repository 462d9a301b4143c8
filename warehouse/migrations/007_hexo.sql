-- Issue 13: Hexo sites as people keep them (Markdown bodies, tag plugins, site config, dates).

ALTER TABLE articles ADD COLUMN body_format VARCHAR;              -- html | markdown (rendered from Markdown)
ALTER TABLE articles ADD COLUMN date_source VARCHAR;              -- front_matter | file_name | file_mtime
ALTER TABLE articles ADD COLUMN source_updated_at TIMESTAMPTZ;    -- front matter `updated`
ALTER TABLE articles ADD COLUMN tags VARCHAR[];                   -- front matter `tags`
ALTER TABLE articles ADD COLUMN lang VARCHAR;                     -- front matter `lang`
ALTER TABLE articles ADD COLUMN warnings VARCHAR[];               -- e.g. unknown tag plugin 'gist'

ALTER TABLE paragraphs ADD COLUMN level TINYINT;                  -- heading level 1-6 (kind heading)
ALTER TABLE paragraphs ADD COLUMN lang VARCHAR;                   -- code language (kind code), when given

ALTER TABLE ingest_runs ADD COLUMN skipped INTEGER DEFAULT 0;     -- drafts and `published: false` posts
