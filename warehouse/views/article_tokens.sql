-- Keyword tokens of each article (title + body, jieba precise mode, stop words and 1-character terms left out):
-- the rows of search_index_keywords (migration 016) with the article and the term by name.
CREATE OR REPLACE VIEW article_tokens AS
SELECT d.article_id, t.term, k.tf
FROM search_index_keywords AS k
JOIN search_index_docs AS d USING (docid)
JOIN search_index_dict AS t USING (termid);
