"""`article_minhash` and `story_clusters`: the near-duplicate tables the dedup step reads and writes."""

from __future__ import annotations

from typing import Iterator, Sequence

import duckdb
import pyarrow as pa

from newsetl.warehouse.db import staged

ARTICLE_MINHASH_SCHEMA = pa.schema([
    ("article_id", pa.string()),
    ("content_hash", pa.string()),
    ("params", pa.string()),
    ("signature", pa.list_(pa.uint32())),
])
STORY_CLUSTERS_SCHEMA = pa.schema([
    ("cluster_id", pa.string()),
    ("article_id", pa.string()),
    ("similarity", pa.float64()),
])


def stale_signatures(con: duckdb.DuckDBPyConnection, params: str) -> list[tuple[str, str, str]]:
    """(article_id, content_hash, body text) of articles whose signature is missing or outdated (hash or params)."""
    return con.execute(
        """
        SELECT a.article_id, a.content_hash, coalesce(a.body_text, '')
        FROM articles AS a LEFT JOIN article_minhash AS m USING (article_id)
        WHERE m.article_id IS NULL OR m.content_hash <> a.content_hash OR m.params <> ?
        """,
        [params],
    ).fetchall()


def stale_signature_ids(con: duckdb.DuckDBPyConnection, params: str) -> list[str]:
    """The ids of `stale_signatures` (read their texts a chunk at a time with `signature_texts`)."""
    return [row[0] for row in con.execute(
        """
        SELECT a.article_id
        FROM articles AS a LEFT JOIN article_minhash AS m USING (article_id)
        WHERE m.article_id IS NULL OR m.content_hash <> a.content_hash OR m.params <> ?
        ORDER BY a.article_id
        """,
        [params],
    ).fetchall()]


def signature_texts(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> list[tuple[str, str, str]]:
    """(article_id, content_hash, body text) of these articles."""
    with staged(con, "text_ids", pa.table({"article_id": pa.array(article_ids, type=pa.string())})):
        return con.execute(
            """
            SELECT a.article_id, a.content_hash, coalesce(a.body_text, '')
            FROM articles AS a JOIN text_ids USING (article_id) ORDER BY a.article_id
            """
        ).fetchall()


def drop_orphan_signatures(con: duckdb.DuckDBPyConnection) -> int:
    """Delete the signatures of articles that no longer exist; returns how many."""
    return con.execute(
        "DELETE FROM article_minhash WHERE article_id NOT IN (SELECT article_id FROM articles)").fetchone()[0]


def stored_cluster_stats(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int, int] | None:
    """(articles, stories, duplicate stories, duplicate articles) of the stored `story_clusters`, or None when
    they do not cover exactly the articles that have a signature (then they must be rebuilt)."""
    clustered, stories, duplicate_stories, duplicate_articles = con.execute(
        """
        SELECT coalesce(sum(size), 0), count(*), count(*) FILTER (size > 1),
               coalesce(sum(size) FILTER (size > 1), 0)
        FROM (SELECT count(*) AS size FROM story_clusters GROUP BY cluster_id)
        """
    ).fetchone()
    signed = con.execute("SELECT count(*) FROM article_minhash JOIN articles USING (article_id)").fetchone()[0]
    return (int(clustered), stories, duplicate_stories, int(duplicate_articles)) if clustered == signed else None


def write_signatures(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str] | pa.Array,
                     content_hashes: Sequence[str] | pa.Array, params: str, signatures: pa.Array) -> None:
    """Replace the signature rows of these articles (`signatures`: list<uint32>, null for too-short texts)."""
    table = pa.table({
        "article_id": pa.array(article_ids, type=pa.string()),
        "content_hash": pa.array(content_hashes, type=pa.string()),
        "params": pa.repeat(pa.scalar(params, type=pa.string()), len(article_ids)),
        "signature": signatures,
    }, schema=ARTICLE_MINHASH_SCHEMA)
    with staged(con, "new_minhash", table):
        con.execute("DELETE FROM article_minhash WHERE article_id IN (SELECT article_id FROM new_minhash)")
        con.execute("INSERT INTO article_minhash SELECT * FROM new_minhash")


def priority_order(con: duckdb.DuckDBPyConnection) -> pa.Array:
    """article_id of every article with a signature row, earliest published first (the order clusters are named
    by). Ids only: the signatures are read apart (`signature_batches`), so DuckDB never sorts them."""
    loaded = con.execute(
        """
        SELECT m.article_id
        FROM article_minhash AS m JOIN articles AS a USING (article_id)
        ORDER BY a.published_at NULLS LAST, a.first_seen_at, m.article_id
        """
    ).to_arrow_table()
    return loaded.column("article_id").combine_chunks()


def signature_batches(con: duckdb.DuckDBPyConnection, rows: int) -> Iterator[pa.RecordBatch]:
    """(article_id, signature) of every stored signature, `rows` at a time, in storage order."""
    yield from con.execute("SELECT article_id, signature FROM article_minhash").to_arrow_reader(rows)


def write_clusters(con: duckdb.DuckDBPyConnection, cluster_ids: Sequence[str] | pa.Array,
                   article_ids: Sequence[str] | pa.Array, similarities: Sequence[float] | pa.Array) -> None:
    """Make `story_clusters` equal to these rows, writing only the rows that changed (a no-op rerun writes nothing)."""
    table = pa.table({"cluster_id": cluster_ids, "article_id": article_ids, "similarity": similarities},
                     schema=STORY_CLUSTERS_SCHEMA)
    with staged(con, "new_clusters", table):
        con.execute(
            """
            DELETE FROM story_clusters WHERE article_id NOT IN (
                SELECT n.article_id FROM new_clusters AS n JOIN story_clusters AS s USING (article_id)
                WHERE s.cluster_id = n.cluster_id AND s.similarity = n.similarity)
            """
        )
        con.execute("INSERT INTO story_clusters SELECT * FROM new_clusters "
                    "WHERE article_id NOT IN (SELECT article_id FROM story_clusters)")
