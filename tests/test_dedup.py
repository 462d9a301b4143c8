"""Near-duplicate detection: MinHash/LSH over character shingles, incremental signatures, story_clusters."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from newsetl.reporting.dedup import DedupSettings, cluster, refresh_story_clusters, shingle_hashes, signatures
from newsetl.reporting.text import normalize
from reporting_warehouse import PLANTED, PLANTED_REPOST, reporting_warehouse  # noqa: F401
from newsetl.warehouse.db import connect_writer

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
    from newsetl.warehouse.db import connect_reader

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
def test_signatures_equal_datasketch_minhash(reporting_warehouse):  # noqa: F811
    """Our numpy MinHash is datasketch's affine32 MinHash bit for bit: on the fixture articles, on generated texts
    of every length from empty up, and on hashes at the ends of the 32-bit range."""
    import random

    import duckdb
    from datasketch import MinHash

    from newsetl.reporting.minhash import SEED, _Permutations

    with duckdb.connect(str(reporting_warehouse["path"]), read_only=True) as con:
        bodies = [row[0] for row in con.execute("SELECT coalesce(body_text, '') FROM articles").fetchall()]
    rng = random.Random(15)
    texts = bodies + [ORIGINAL, EDITED, UNRELATED] + [
        "".join(rng.choice("的一是在不了有和人这中大为上个国我以要他ab1，。 ") for _ in range(rng.choice([0, 3, 40, 900])))
        for _ in range(300)]
    for settings in (DedupSettings(), DedupSettings(shingle_size=3, num_perm=64, min_chars=0)):
        ours = signatures(texts, settings)
        base = MinHash(num_perm=settings.num_perm, seed=SEED, hashfunc=lambda value: value, scheme="affine32")
        compared = 0
        for text, signature in zip(texts, ours):
            normalized = normalize(text)
            if len(normalized) < settings.min_chars:
                assert signature is None
                continue
            minhash = base.copy()
            minhash.update_batch(shingle_hashes(normalized, settings.shingle_size).tolist())
            assert signature.dtype == np.uint32
            assert np.array_equal(signature, np.asarray(minhash.hashvalues, dtype=np.uint32)), text[:40]
            compared += 1
        assert compared > 150  # of 320 texts (the others are below min_chars)
    edges = np.array([0, 1, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1], dtype=np.uint32)
    minhash = MinHash(num_perm=128, seed=SEED, hashfunc=lambda value: value, scheme="affine32")
    minhash.update_batch(edges.tolist())
    assert np.array_equal(_Permutations(128, SEED).signature(edges), minhash.hashvalues)


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


def _reference_cluster(matrix: np.ndarray, settings: DedupSettings) -> list[tuple[int, float]]:
    """The straightforward algorithm: a MinHashLSH query per row, union-find over candidates that match."""
    from datasketch import LeanMinHash, MinHashLSH

    parent = list(range(len(matrix)))

    def find(item: int) -> int:
        while parent[item] != item:
            item = parent[item]
        return item

    lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
    sketches = [LeanMinHash(seed=1, hashvalues=row, scheme="affine32") for row in matrix]
    for row, sketch in enumerate(sketches):
        lsh.insert(row, sketch)
    for row, sketch in enumerate(sketches):
        for other in lsh.query(sketch):
            a, b = find(row), find(other)
            if other > row and a != b and np.count_nonzero(matrix[row] == matrix[other]) / matrix.shape[1] \
                    >= settings.threshold:
                parent[max(a, b)] = min(a, b)
    roots = [find(row) for row in range(len(matrix))]
    return [(root, 1.0 if root == row else np.count_nonzero(matrix[root] == matrix[row]) / matrix.shape[1])
            for row, root in enumerate(roots)]


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_bucket_clustering_equals_per_article_lsh_queries(threshold):
    """Reposts (identical texts), lightly and heavily edited copies and unrelated texts: same groups, same scores."""
    import random

    rng = random.Random(11)
    alphabet = [chr(0x4E00 + i) for i in range(200)]
    bases = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(40, 300))) for _ in range(12)]
    texts = []
    for _ in range(400):
        chars = list(rng.choice(bases))
        for _ in range(rng.choice([0, 0, 0, 1, 4, 15, 60])):
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        texts.append("".join(chars))
    settings = DedupSettings(threshold=threshold)
    matrix = np.vstack(signatures(texts, settings))
    groups = cluster(matrix, np.ones(len(texts), dtype=bool), settings)
    assert groups == _reference_cluster(matrix, settings)
    assert len({root for root, _ in groups}) < 200          # the copies did group


def test_short_texts_stay_alone_next_to_reposts():
    settings = DedupSettings()
    sigs = signatures([ORIGINAL, "太短了", ORIGINAL, EDITED, "太短了"], settings)
    present = np.array([s is not None for s in sigs])
    matrix = np.zeros((5, settings.num_perm), dtype=np.uint32)
    matrix[present] = np.vstack([s for s in sigs if s is not None])
    groups = cluster(matrix, present, settings)
    assert [root for root, _ in groups] == [0, 1, 0, 0, 4]
    assert groups[2][1] == 1.0 and 0.5 <= groups[3][1] < 1.0


def test_rerun_recomputes_nothing_and_an_edit_joins_a_story(reporting_warehouse, tmp_path):  # noqa: F811
    from newsetl.config import ReportingConfig
    from newsetl.reporting.analytics import refresh_analytics

    copy = tmp_path / "copy.duckdb"
    shutil.copy(reporting_warehouse["path"], copy)
    con = connect_writer(copy)
    try:
        config = ReportingConfig()
        rerun = refresh_analytics(con, config)
        assert (rerun.hashed, rerun.segmented, rerun.indexed) == (0, 0, 0)
        assert (rerun.stories, rerun.duplicate_stories, rerun.duplicate_articles) == (16, 1, 2)
        # An unrelated article becomes a repost of the planted story: it joins it (named after the earliest).
        target = con.execute("SELECT article_id FROM articles WHERE title NOT IN (?, ?) ORDER BY article_id LIMIT 1",
                             [PLANTED, PLANTED_REPOST]).fetchone()[0]
        con.execute("UPDATE articles SET body_text = (SELECT body_text FROM articles WHERE title = ?), "
                    "content_hash = 'edited' WHERE article_id = ?", [PLANTED, target])
        edited = refresh_analytics(con, config)
        assert (edited.hashed, edited.segmented, edited.indexed) == (1, 1, 1)
        assert (edited.stories, edited.duplicate_stories, edited.duplicate_articles) == (15, 1, 3)
        planted_id = con.execute("SELECT article_id FROM articles WHERE title = ?", [PLANTED]).fetchone()[0]
        cluster_id, similarity = con.execute(
            "SELECT cluster_id, similarity FROM story_clusters WHERE article_id = ?", [target]).fetchone()
        first = con.execute("SELECT article_id FROM articles WHERE article_id IN (SELECT article_id FROM story_clusters "
                            "WHERE cluster_id = ?) ORDER BY published_at NULLS LAST, first_seen_at, article_id LIMIT 1",
                            [cluster_id]).fetchone()[0]
        assert cluster_id == first and first in (target, planted_id) and similarity == 1.0
        assert con.execute("SELECT cluster_id FROM story_clusters WHERE article_id = ?", [planted_id]).fetchone()[0] \
            == cluster_id
    finally:
        con.close()
