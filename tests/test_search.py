"""Full-text search (BM25 over jieba-segmented text, an incremental index) through the library and the CLI."""

from __future__ import annotations

import json
from datetime import date

import pytest

from newsetl.cli import main
from newsetl.errors import UsageError
from newsetl.reporting.search import search
from reporting_warehouse import reporting_warehouse, write_config  # noqa: F401
from newsetl.warehouse.db import connect_reader

TRAIN_FERRY = "12306 App 上新：已支持买船票，轻松跨越琼州海峡"


@pytest.fixture
def con(reporting_warehouse):  # noqa: F811
    con = connect_reader(reporting_warehouse["path"])
    yield con
    con.close()


def test_term_only_in_one_body_finds_that_article(con):
    # 粤海铁路 appears in the body of exactly one article and in no title.
    assert con.execute("SELECT title FROM articles WHERE body_text LIKE '%粤海铁路%'").fetchall() == [(TRAIN_FERRY,)]
    assert con.execute("SELECT count(*) FROM articles WHERE title LIKE '%粤海%'").fetchone() == (0,)
    hits = search(con, "粤海铁路")
    assert hits[0].title == TRAIN_FERRY
    assert hits[0].score > 0


def test_filters_by_source_and_day(con):
    assert [h.title for h in search(con, "钾肥")] == ["100万吨国家钾肥储备投放保春耕"]
    assert search(con, "钾肥", sources=["reposts"]) == []
    assert search(con, "钾肥", since=date(2022, 3, 22)) == []
    assert len(search(con, "钾肥", since=date(2022, 3, 21))) == 1


def test_ranking_prefers_more_matches(con):
    titles = [h.title for h in search(con, "房地产 投资 下降")]
    assert set(titles[:2]) == {"1-5月上海市房地产开发投资同比下降18.0%", "1-5月上海房地产开发投资比去年同期下降18.0%。"}
    scores = [h.score for h in search(con, "房地产 投资 下降")]
    assert scores == sorted(scores, reverse=True)


def test_query_without_terms_is_a_usage_error(con):
    with pytest.raises(UsageError, match="no searchable terms"):
        search(con, "，。！")


def test_cli_search_json(reporting_warehouse, capsys):  # noqa: F811
    config = write_config(reporting_warehouse)
    assert main(["search", "粤海铁路", "--config", str(config), "--format", "json", "--limit", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["title"] for r in rows] == [TRAIN_FERRY]
    assert rows[0]["source"] == "newsroom"


def test_cli_bad_since_is_one_line(reporting_warehouse, capsys):  # noqa: F811
    config = write_config(reporting_warehouse)
    assert main(["search", "钾肥", "--config", str(config), "--since", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert "not a moment: 'yesterday'" in err and "Traceback" not in err and err.count("\n") == 1


def test_reposts_are_segmented_like_separate_articles():
    """A body shared by several articles is segmented once; the rows equal segmenting each article on its own."""
    from collections import Counter

    from newsetl.reporting.segment import BodyCache, segment
    from newsetl.reporting.text import keyword_terms, search_terms

    body = "国家统计局上海调查总队发布数据显示，上海市房地产开发投资同比下降18.0%。New Energy 汽车销量上升。"
    rows = [("a1", "h1", "房地产 投资", body), ("a2", "h2", "新能源汽车 Tesla", body), ("a3", "h3", "", body)]
    cache = BodyCache(size=1)
    segmented = segment(rows, cache)
    docs, tokens = segmented.docs, segmented.tokens
    assert list(cache.entries) == [body]
    assert docs.column("body_terms").to_pylist() == [" ".join(search_terms(body))] * 3
    assert docs.column("title_terms").to_pylist() == [" ".join(search_terms(title)) for _, _, title, _ in rows]
    for article_id, _, title, _ in rows:
        expected = Counter(keyword_terms(f"{title}\n{body}"))
        got = {t: tf for a, t, tf in zip(*tokens.to_pydict().values()) if a == article_id}
        assert got == dict(expected) and "房地产" in got
    assert docs.column("keyword_terms").to_pylist() == [
        sum(Counter(keyword_terms(f"{title}\n{body}")).values()) for _, _, title, _ in rows]


def test_index_is_rewritten_only_for_documents_that_change(reporting_warehouse, tmp_path):  # noqa: F811
    import shutil

    from newsetl.config import ReportingConfig
    from newsetl.reporting.analytics import refresh_analytics
    from newsetl.warehouse.db import connect_writer

    copy = tmp_path / "copy.duckdb"
    shutil.copy(reporting_warehouse["path"], copy)
    con = connect_writer(copy)
    try:
        config = ReportingConfig()

        def ranking() -> tuple[list[str], list[float]]:
            hits = search(con, "房地产 投资 下降")
            return [h.article_id for h in hits], [h.score for h in hits]

        # Scores are compared with a relative tolerance: DuckDB may sum a document's BM25 terms in any order.
        before_ids, before_scores = ranking()
        # Same text under a new content hash (say, only metadata changed): segmented again, index rows kept.
        con.execute("UPDATE articles SET content_hash = 'metadata-only' WHERE title = ?", [TRAIN_FERRY])
        same = refresh_analytics(con, config)
        assert (same.segmented, same.hashed, same.indexed) == (1, 1, 0)
        ids, scores = ranking()
        assert ids == before_ids and scores == pytest.approx(before_scores, rel=1e-12)
        # A removed article changes the BM25 statistics (document count, average length) of every hit.
        con.execute("DELETE FROM articles WHERE title = ?", [TRAIN_FERRY])
        removed = refresh_analytics(con, config)
        assert (removed.segmented, removed.indexed, removed.articles) == (0, 1, 16)
        assert con.execute("SELECT count(*) FROM search_index_docs").fetchone() == (16,)
        after_ids, after_scores = ranking()
        assert sorted(after_ids) == sorted(before_ids) and after_scores != pytest.approx(before_scores, rel=1e-6)
        # ... and the scores equal those of an index built from scratch on the remaining documents.
        con.execute("DELETE FROM search_index_terms; DELETE FROM search_index_docs; DELETE FROM search_index_dict; "
                    "UPDATE search_documents SET content_hash = ''")
        rebuilt = refresh_analytics(con, config)
        assert (rebuilt.segmented, rebuilt.indexed) == (16, 16)
        ids, scores = ranking()
        assert ids == after_ids and scores == pytest.approx(after_scores, rel=1e-12)
        assert search(con, "粤海铁路") == []
    finally:
        con.close()
