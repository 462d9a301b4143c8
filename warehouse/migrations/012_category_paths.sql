-- Issue 13: Hexo's category hierarchies. `categories: [a, b]` is one hierarchy a > b, `[[a, b], c]` two
-- (a > b, and c); `categories` keeps the flat list, `category_paths` the hierarchies as lists of names.

ALTER TABLE articles ADD COLUMN category_paths VARCHAR[][];

-- Rows loaded before: their flat list is one hierarchy, which is what every front matter without the nested
-- form says; a post with the nested form gets its true hierarchies when it is processed again (backfill).
UPDATE articles SET category_paths = CASE WHEN len(categories) > 0 THEN [categories] ELSE [] END
WHERE category_paths IS NULL AND categories IS NOT NULL;
