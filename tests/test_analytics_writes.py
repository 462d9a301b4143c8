"""How the analytics step writes: DuckDB on one thread during the step (and as before after it), and the
dictionary-encoded tables a worker sends (reposts' bodies, token rows' article ids) stored as the plain strings."""

from __future__ import annotations

from collections import Counter

import pytest

from newsetl.reporting.segment import BodyCache, segment
from newsetl.reporting.text import keyword_terms, search_terms
from newsetl.warehouse import keywords, search
from newsetl.warehouse.db import connect_writer, transaction
from reporting_warehouse import reporting_warehouse  # noqa: F401

BODY = "国家统计局上海调查总队发布数据显示，上海市房地产开发投资同比下降18.0%。New Energy 汽车销量上升。"
OTHER = "新能源汽车销量上升，房地产投资下降。"


def _threads(con) -> int:
    return int(con.execute("SELECT current_setting('threads')").fetchone()[0])


def test_one_thread_during_the_block_then_as_before(tmp_path):
    con = connect_writer(tmp_path / "wh.duckdb")
    try:
        con.execute("SET threads = 3")
        with keywords.one_thread(con):
            assert _threads(con) == 1
        assert _threads(con) == 3
        with pytest.raises(ZeroDivisionError):
            with keywords.one_thread(con):
                1 / 0
        assert _threads(con) == 3
    finally:
        con.close()


def test_wire_tables_are_stored_as_plain_strings(tmp_path):
    rows = [("a1", "h1", "房地产 投资", BODY), ("a2", "h2", "新能源汽车 Tesla", BODY), ("a3", "h3", "", OTHER),
            ("a4", "h4", "汽车", BODY)]
    segmented = segment(rows, BodyCache())
    body_terms = segmented.docs.column("body_terms").combine_chunks()
    # three reposts of BODY and one OTHER: the pipe carries two segmented bodies, and each article id once
    assert body_terms.dictionary.to_pylist() == [" ".join(search_terms(BODY)), " ".join(search_terms(OTHER))]
    assert body_terms.indices.to_pylist() == [0, 0, 1, 0]
    assert segmented.tokens.column("article_id").combine_chunks().dictionary.to_pylist() == ["a1", "a2", "a3", "a4"]

    con = connect_writer(tmp_path / "wh.duckdb")
    try:
        terms = search.TermIds(con)
        with transaction(con):
            keywords.write_documents(con, segmented.docs, replacing=False)
            docids = search.index_documents(con, segmented.docs.column("article_id").combine_chunks(),
                                            segmented.postings, segmented.lengths, terms, new=True)
            keywords.write_tokens(con, docids, segmented.tokens, terms, replacing=False)
        stored = con.execute("SELECT article_id, content_hash, title_terms, body_terms, keyword_terms "
                             "FROM search_documents ORDER BY article_id").fetchall()
        tokens = con.execute("SELECT article_id, term, tf FROM article_tokens ORDER BY ALL").fetchall()
        types = {table: con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = ? "
                                    "ORDER BY ordinal_position", [table]).fetchall()
                 for table in ("article_tokens", "search_index_keywords")}
    finally:
        con.close()
    expected_tokens = []
    for article_id, content_hash, title, body in rows:
        counts = Counter(keyword_terms(f"{title}\n{body}"))
        expected_tokens += [(article_id, term, tf) for term, tf in counts.items()]
        assert (article_id, content_hash, " ".join(search_terms(title)), " ".join(search_terms(body)),
                sum(counts.values())) in stored
    assert len(stored) == 4
    assert tokens == sorted(expected_tokens) and ("a1", "房地产", 2) in tokens
    # the view names what the table stores by number
    assert types == {"article_tokens": [("VARCHAR",), ("VARCHAR",), ("INTEGER",)],
                     "search_index_keywords": [("BIGINT",), ("BIGINT",), ("INTEGER",)]}


def test_stale_texts_say_which_articles_had_a_document(reporting_warehouse, tmp_path):  # noqa: F811
    """A changed article's chunk replaces its rows; a chunk of articles without a document skips the look-ups,
    and the refresh then equals the documents and index rows the warehouse had."""
    import shutil

    from newsetl.config import ReportingConfig
    from newsetl.reporting.analytics import refresh_analytics

    copy = tmp_path / "copy.duckdb"
    shutil.copy(reporting_warehouse["path"], copy)
    con = connect_writer(copy)
    try:
        tables = ("SELECT * FROM search_documents ORDER BY article_id",
                  "SELECT * FROM article_tokens ORDER BY ALL",
                  "SELECT d.article_id, d.len, t.field, x.term, t.tf FROM search_index_terms AS t "
                  "JOIN search_index_docs AS d USING (docid) JOIN search_index_dict AS x USING (termid) ORDER BY ALL")
        before = [con.execute(sql).fetchall() for sql in tables]
        changed, dropped = [row[0] for row in con.execute(
            "SELECT article_id FROM search_documents ORDER BY article_id LIMIT 2").fetchall()]
        con.execute("UPDATE search_documents SET content_hash = 'old' WHERE article_id = ?", [changed])
        # its index rows and tokens are then orphans: the refresh drops them and writes the document again
        con.execute("DELETE FROM search_documents WHERE article_id = ?", [dropped])
        rows = [row for batch in keywords.stale_texts(con, 1000) for row in zip(*batch.to_pydict().values())]
        assert sorted((row[0], row[4]) for row in rows) == sorted([(changed, True), (dropped, False)])
        refresh_analytics(con, ReportingConfig(), parallel=False)
        assert [con.execute(sql).fetchall() for sql in tables] == before
    finally:
        con.close()


def test_an_older_warehouse_gets_its_keyword_tokens_back_by_number(reporting_warehouse, tmp_path):  # noqa: F811
    """Migration 016 on a warehouse whose tokens are the old table: the next refresh segments every article again
    and writes the same tokens (by number), leaving the search index as it was; the views read as before."""
    import shutil

    import duckdb

    from newsetl.config import ReportingConfig
    from newsetl.reporting.analytics import refresh_analytics

    copy = tmp_path / "old.duckdb"
    shutil.copy(reporting_warehouse["path"], copy)
    queries = ("SELECT * FROM article_tokens ORDER BY ALL", "SELECT * FROM article_keywords ORDER BY ALL",
               "SELECT * FROM keyword_trends ORDER BY ALL",
               "SELECT d.article_id, d.docid, d.len, t.field, t.termid, t.tf FROM search_index_terms AS t "
               "JOIN search_index_docs AS d USING (docid) ORDER BY ALL")
    with duckdb.connect(str(copy)) as con:  # back to the tables of migration 015
        before = [con.execute(sql).fetchall() for sql in queries]
        con.execute("CREATE TABLE old_tokens AS SELECT * FROM article_tokens")
        con.execute("DROP VIEW article_tokens")
        con.execute("ALTER TABLE old_tokens RENAME TO article_tokens")
        con.execute("DROP TABLE search_index_keywords")
        con.execute("DELETE FROM schema_version WHERE version = 16")
    con = connect_writer(copy)
    try:
        assert con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'article_tokens'"
                           ).fetchone()[0] == "VIEW"
        assert con.execute("SELECT count(*) FROM article_tokens").fetchone()[0] == 0
        summary = refresh_analytics(con, ReportingConfig(), parallel=False)
        assert (summary.segmented, summary.indexed) == (17, 0)  # segmented as before: the index is kept
        assert [con.execute(sql).fetchall() for sql in queries] == before
        assert len(before[0]) > 1000 and before[1] and before[2]
    finally:
        con.close()
