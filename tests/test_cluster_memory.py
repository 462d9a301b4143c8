"""Clustering every signature (the end of the analytics step) without copies of them all: at 100k posts the old
sorted copies (DuckDB's ORDER BY, Arrow, the gathered rows, np.unique's sorted keys) were the run's peak."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pyarrow as pa

from newsetl.reporting import dedup
from newsetl.reporting.dedup import DedupSettings, cluster, refresh_story_clusters, signatures
from newsetl.reporting.minhash import lsh_bands
from newsetl.warehouse import stories
from newsetl.warehouse.db import connect_writer

ROWS, BASES, SHORT_EVERY = 64_000, 2_000, 49  # each base: 32 reposts, at most one of them too short


def _warehouse(path, settings: DedupSettings):
    """ROWS articles: row i is a repost of base i % BASES (identical signature), every SHORT_EVERY-th one too short
    to sign (null), published in the reverse order of their ids (so priority order is not storage order)."""
    con = connect_writer(path)
    con.execute(
        f"""
        INSERT INTO articles (article_id, source, source_type, locator, content_hash, published_at, first_seen_at,
                              updated_at, run_id)
        SELECT printf('a%06d', i), 's', 'hexo_dir', printf('p%06d', i), printf('h%06d', i),
               TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds({ROWS} - i), TIMESTAMPTZ '2024-06-01 00:00:00+00',
               TIMESTAMPTZ '2024-06-01 00:00:00+00', 'r'
        FROM range({ROWS}) AS t(i)
        """)
    bases = np.random.default_rng(3).integers(0, 2**32, (BASES, settings.num_perm), dtype=np.uint32)
    present = np.arange(ROWS) % SHORT_EVERY != 0
    values = bases[np.arange(ROWS)[present] % BASES].ravel()
    offsets = np.zeros(ROWS + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(present * settings.num_perm)
    column = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.uint32()), mask=pa.array(~present))
    stories.write_signatures(con, [f"a{i:06d}" for i in range(ROWS)], [f"h{i:06d}" for i in range(ROWS)],
                             settings.params, column)
    return con, present


def test_clustering_holds_one_matrix_of_signatures_not_sorted_copies(tmp_path):
    settings = DedupSettings()
    con, present = _warehouse(tmp_path / "wh.duckdb", settings)
    lsh_bands(settings.threshold, settings.num_perm)  # its imports (datasketch, scipy) are not the clustering's
    try:
        tracemalloc.start()
        started = tracemalloc.get_traced_memory()[0]
        stats = refresh_story_clusters(con, settings, hashed_before=1)  # 1: the signatures changed, rebuild
        peak = tracemalloc.get_traced_memory()[1] - started
        tracemalloc.stop()
        rows = con.execute("SELECT article_id, cluster_id, similarity FROM story_clusters ORDER BY article_id"
                           ).fetchall()
    finally:
        con.close()
    matrix_bytes = ROWS * settings.num_perm * 4  # 32.8 MB
    # numpy's allocations are traced: the old code held the matrix, a gathered copy, np.unique's flattened and
    # sorted keys and the gathered rows for the similarities (>= 4x) at once; now the matrix and a block.
    assert peak < 1.6 * matrix_bytes, f"{peak / 2**20:.0f} MB traced for a {matrix_bytes / 2**20:.0f} MB matrix"
    short = ROWS // SHORT_EVERY + 1  # rows 0, 49, ..., 63,994
    assert (stats.articles, stats.stories, stats.duplicate_stories, stats.duplicate_articles) == (
        ROWS, BASES + short, BASES, ROWS - short) == (64_000, 3_307, 2_000, 62_693)
    assert len(rows) == ROWS
    # A story is named after its earliest-published member: the highest row number of the base's reposts.
    last_of_base = {base: max(i for i in range(base, ROWS, BASES) if present[i]) for base in range(BASES)}
    for i, (article_id, cluster_id, similarity) in enumerate(rows):
        assert article_id == f"a{i:06d}"
        assert cluster_id == (f"a{last_of_base[i % BASES]:06d}" if present[i] else article_id)
        assert similarity == 1.0


def test_a_row_hash_collision_falls_back_to_the_exact_grouping(monkeypatch):
    """Identical signatures are grouped by a 64-bit hash and checked row by row: if two different rows shared a
    hash, the exact (sorted rows) grouping is used and the clusters are unchanged."""
    settings = DedupSettings()
    original = "国家统计局上海调查总队发布数据显示，上海市房地产开发投资同比下降，住宅投资下降，办公楼投资下降。"
    edited = original.replace("同比", "比去年同期")
    other = "工信部日前公布，已分十批创建了445家国家新型工业化产业示范基地，示范基地集聚了大批专精特新企业。"
    sigs = signatures([original, other, "短", original, edited, other, original], settings)
    present = np.array([s is not None for s in sigs])
    matrix = np.zeros((len(sigs), settings.num_perm), dtype=np.uint32)
    matrix[present] = np.vstack([s for s in sigs if s is not None])
    expected = cluster(matrix, present, settings)
    assert [root for root, _ in expected] == [0, 1, 2, 0, 0, 1, 0]
    assert [sim for _, sim in expected][:4] == [1.0, 1.0, 1.0, 1.0] and 0.5 <= expected[4][1] < 1.0

    monkeypatch.setattr(dedup, "_row_hashes", lambda matrix, rows: np.zeros(len(rows), dtype=np.uint64))
    assert cluster(matrix, present, settings) == expected
