-- Keyword tokens stored by number: `article_tokens` (article_id, term, tf) held two strings per row, 4.4M rows for
-- 20,000 posts, and inserting them was the analytics step's largest cost. The rows now name the search document
-- and the term by the search index's numbers; the view `article_tokens` (warehouse/views/article_tokens.sql)
-- gives them their names again, with the same columns as the table had.

-- The keyword tokens of each search document (title + body, jieba precise mode, stop words and 1-character
-- terms left out): written and removed with the document's index rows (warehouse/keywords.py, search.py).
CREATE TABLE search_index_keywords (
    docid  BIGINT NOT NULL,                -- search_index_docs.docid
    termid BIGINT NOT NULL,                -- search_index_dict.termid (the dictionary holds keyword terms too)
    tf     INTEGER NOT NULL                -- occurrences of the term in the article
);

DROP TABLE article_tokens;

-- Every article is segmented again by the next analytics refresh, which writes its tokens here (documents whose
-- segmentation is unchanged keep their index rows).
UPDATE search_documents SET content_hash = '';
