"""Near-duplicate detection: MinHash/LSH over character shingles, incremental signatures, story_clusters."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from newsetl.reporting.dedup import DedupSettings, cluster, refresh_story_clusters, shingle_hashes, signatures
from newsetl.reporting.text import normalize
from reporting_warehouse import PLANTED, PLANTED_REPOST, reporting_warehouse  # noqa: F401
from warehouse.db import connect_writer

ORIGINAL = ("国家统计局上海调查总队6月17日发布数据显示，1-5月，上海市房地产开发投资同比下降18.0%。其中，住宅投资下降16.2%，"
            "办公楼投资下降25.1%，商业营业用房投资下降20.3%。从销售情况看，1-5月，全市新建商品房销售面积同比下降32.5%，"
            "其中住宅销售面积下降29.8%。")
EDITED = ("国家统计局上海调查总队6月17日发布的数据显示，1-5月，上海房地产开发投资比去年同期下降18.0%。其中，住宅投资下降16.2%，"
          "办公楼投资下降25.1%，商业营业用房投资下降20.3%。从销售情况看，1-5月，全市新建商品房销售面积比去年同期下降32.5%，"
          "其中住宅销售面积下降29.8%。")
UNRELATED = ("工信部日前公布，已分十批创建了445家国家新型工业化产业示范基地，我国四分之一的制造业单项冠军企业和三分之一"
             "的专精特新小巨人企业来自示范基地。")


def test_normalize_drops_spacing_and_punctuation():
    assert normalize("1-5月 上海市，下降18.0%。ＡＢ") == "15月上海市下降180ab"


def test_shingles_are_distinct_and_order_sensitive():
    assert len(shingle_hashes("abcabc", 3)) == 3          # abc, bca, cab
    assert len(shingle_hashes("ab", 5)) == 1              # shorter than a shingle: the whole text
    assert set(shingle_hashes("abcd", 2)) != set(shingle_hashes("dcba", 2))


def test_signatures_match_for_edited_text_only():
    settings = DedupSettings()
    sigs = signatures([ORIGINAL, EDITED, UNRELATED, "太短了"], settings)
    assert sigs[3] is None                                 # under min_chars: never compared
    matrix = np.vstack(sigs[:3])
    groups = cluster(matrix, np.array([True, True, True]), settings)
    assert [root for root, _ in groups] == [0, 0, 2]
    assert groups[0][1] == 1.0 and 0.5 <= groups[1][1] < 1.0


def test_threshold_is_respected():
    strict = DedupSettings(threshold=0.95)
    matrix = np.vstack(signatures([ORIGINAL, EDITED], strict))
    assert [root for root, _ in cluster(matrix, np.array([True, True]), strict)] == [0, 1]


def test_planted_pair_clusters_and_others_do_not(reporting_warehouse):  # noqa: F811
    from warehouse.db import connect_reader

    con = connect_reader(reporting_warehouse["path"])
    try:
        rows = con.execute(
            "SELECT a.title, c.cluster_id = c.article_id, c.similarity FROM story_clusters c "
            "JOIN articles a USING (article_id) WHERE c.cluster_id IN "
            "(SELECT cluster_id FROM story_clusters GROUP BY cluster_id HAVING count(*) > 1) ORDER BY c.similarity DESC"
        ).fetchall()
        singles = con.execute("SELECT count(*) FROM story_clusters WHERE cluster_id = article_id").fetchone()[0]
    finally:
        con.close()
    assert [(title, first) for title, first, _ in rows] == [(PLANTED, True), (PLANTED_REPOST, False)]
    assert rows[0][2] == 1.0 and 0.5 <= rows[1][2] < 1.0
    assert singles == 16


def test_refresh_is_incremental(reporting_warehouse, tmp_path):  # noqa: F811
    copy = tmp_path / "copy.duckdb"
    shutil.copy(reporting_warehouse["path"], copy)
    con = connect_writer(copy)
    try:
        settings = DedupSettings()
        assert refresh_story_clusters(con, settings).hashed == 0
        # Rewrite the repost completely: it gets a new signature and leaves the story.
        con.execute("UPDATE articles SET body_text = ?, content_hash = 'changed' WHERE title = ?",
                    [UNRELATED * 3, PLANTED_REPOST])
        stats = refresh_story_clusters(con, settings)
        assert (stats.hashed, stats.stories, stats.duplicate_stories) == (1, 17, 0)
        # Other settings invalidate every signature.
        assert refresh_story_clusters(con, DedupSettings(shingle_size=4)).hashed == 17
        con.execute("DELETE FROM articles WHERE title = ?", [PLANTED])
        assert refresh_story_clusters(con, DedupSettings(shingle_size=4)).articles == 16
        assert con.execute("SELECT count(*) FROM article_minhash").fetchone() == (16,)
    finally:
        con.close()


@pytest.mark.timeout(120)
def test_minhash_speed_on_20k_articles():
    """20k articles of ~1,500 characters must be hashed in well under a minute (measured ~10 s on 2 cores)."""
    import time

    base = (ORIGINAL + EDITED + UNRELATED) * 5
    texts = [base[i % 300:] + str(i) for i in range(20_000)]
    started = time.perf_counter()
    sigs = signatures(texts, DedupSettings())
    hashed = time.perf_counter() - started
    assert all(s is not None for s in sigs)
    assert hashed < 60, f"hashing 20k articles took {hashed:.1f} s"
