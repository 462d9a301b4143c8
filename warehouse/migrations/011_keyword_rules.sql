-- Keyword candidates changed (issue 12: no latin fragments or English stop words such as `ai`, `ap`, `ate`,
-- `the`): mark every search document stale, so the next analytics refresh segments each article again and
-- replaces its keyword tokens. The search index is rebuilt only if a segmented text changed.
UPDATE search_documents SET content_hash = '';
