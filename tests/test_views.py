"""Reporting views over a warehouse built by the real ingest flow from the real posts."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone

import pytest

from reporting_warehouse import PLANTED, PLANTED_REPOST, reporting_warehouse  # noqa: F401
from newsetl.warehouse.db import connect_reader


@pytest.fixture
def con(reporting_warehouse):  # noqa: F811
    con = connect_reader(reporting_warehouse["path"])
    yield con
    con.close()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def test_run_recorded_with_analytics(reporting_warehouse, con):  # noqa: F811
    summary = reporting_warehouse["summary"]
    assert (summary["discovered"], summary["new"], summary["rejected"]) == (18, 17, 1)
    analytics = summary["extra"]["analytics"]
    assert (analytics["articles"], analytics["hashed"], analytics["segmented"]) == (17, 17, 17)
    assert (analytics["stories"], analytics["duplicate_stories"], analytics["duplicate_articles"]) == (16, 1, 2)
    rows = con.execute("SELECT status, discovered, new, updated, unchanged, rejected, reject_rows "
                       "FROM run_history").fetchall()
    assert rows == [("completed", 18, 17, 0, 0, 1, 1)]


def test_source_summary(con):
    rows = con.execute(
        "SELECT source, articles, first_published, last_published, articles_with_images, image_rate, rejected, "
        "reject_rate FROM source_summary ORDER BY source").fetchall()
    assert rows == [
        ("newsroom", 16, utc(2019, 1, 8, 9, 10), utc(2022, 7, 31, 6, 13, 25), 12, 0.75, 0, 0.0),
        ("reposts", 1, utc(2022, 6, 21, 9, 40), utc(2022, 6, 21, 9, 40), 0, 0.0, 1, 0.5),
    ]
    # avg_chars is the rounded mean of the loaded articles' char_count.
    for source, avg in con.execute("SELECT source, avg_chars FROM source_summary").fetchall():
        counts = [r[0] for r in con.execute("SELECT char_count FROM articles WHERE source = ?", [source]).fetchall()]
        assert abs(avg - sum(counts) / len(counts)) <= 0.05  # DuckDB rounds halves away from zero


def test_daily_articles(con):
    assert con.execute("SELECT count(*), sum(articles) FROM daily_articles").fetchone() == (43, 16 * 3 + 1)
    by_category = dict(con.execute(
        "SELECT category, sum(articles) FROM daily_articles GROUP BY category").fetchall())
    assert by_category["金融"] == 11
    assert by_category["新媒体"] == 4
    assert by_category["地产"] == 1
    assert con.execute(
        "SELECT day, source, category, articles FROM daily_articles WHERE day IN ('2021-08-30', '2022-06-21') "
        "ORDER BY day, category").fetchall() == [
        (date(2021, 8, 30), "newsroom", "新浪财经", 2),
        (date(2021, 8, 30), "newsroom", "新浪财经－国內", 2),
        (date(2021, 8, 30), "newsroom", "金融", 2),
        (date(2022, 6, 21), "reposts", "地产", 1),
    ]


def test_editor_and_origin_summaries(con):
    assert con.execute("SELECT count(*), sum(articles) FROM editor_summary").fetchone() == (10, 10)
    assert con.execute("SELECT articles, sources, first_published FROM editor_summary WHERE editor = '王蔚'"
                       ).fetchone() == (1, ["newsroom"], utc(2022, 6, 20, 2, 15))
    assert con.execute("SELECT count(*) FROM origin_summary").fetchone() == (6,)
    assert con.execute("SELECT articles, sources FROM origin_summary WHERE origin = '上海证券报'"
                       ).fetchone() == (1, ["reposts"])


def test_stories_view(con):
    assert con.execute("SELECT count(*), sum(articles) FROM stories").fetchone() == (16, 17)
    rows = con.execute(
        "SELECT title, articles, source_count, sources, first_source, first_published, last_published "
        "FROM stories WHERE articles > 1").fetchall()
    assert rows == [(PLANTED, 2, 2, ["newsroom", "reposts"], "newsroom", utc(2022, 6, 20, 2, 15),
                     utc(2022, 6, 21, 9, 40))]


def test_article_keywords_are_tfidf_top_terms(con):
    rows = con.execute(
        "SELECT k.term, k.tf, k.df, k.rank FROM article_keywords k JOIN articles a USING (article_id) "
        "WHERE a.title = ? AND k.rank <= 3 ORDER BY k.rank", [PLANTED_REPOST]).fetchall()
    assert rows == [("下降", 9, 4, 1), ("投资", 7, 7, 2), ("去年同期", 3, 1, 3)]
    assert con.execute("SELECT max(rank), count(DISTINCT article_id) FROM article_keywords").fetchone() == (10, 17)
    # The stored score follows the documented formula, recomputed here from the tokens.
    article_id, length = con.execute(
        "SELECT article_id, keyword_terms FROM search_documents JOIN articles USING (article_id) WHERE title = ?",
        [PLANTED]).fetchone()
    tfidf = con.execute("SELECT tfidf FROM article_keywords WHERE article_id = ? AND term = '下降'",
                        [article_id]).fetchone()[0]
    assert tfidf == round(9 / length * (math.log((1 + 17) / (1 + 4)) + 1), 6)


def test_keyword_trends(con):
    rows = con.execute("SELECT day, term, articles, occurrences FROM keyword_trends "
                       "WHERE term IN ('钾肥', '房地产') ORDER BY day, term").fetchall()
    assert rows == [
        (date(2022, 3, 21), "钾肥", 1, 5),
        (date(2022, 6, 20), "房地产", 1, 3),
        (date(2022, 6, 21), "房地产", 1, 3),
    ]
    # Stop words and one-character terms are not keyword tokens.
    assert con.execute("SELECT count(*) FROM article_tokens WHERE term IN ('我们', '的') OR length(term) < 2"
                       ).fetchone() == (0,)
