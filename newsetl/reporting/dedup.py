"""Near-duplicate stories: MinHash signatures of character shingles, LSH candidates, union-find clusters.

Signatures are kept in `article_minhash` and recomputed only for articles whose content hash (or the dedup
settings) changed; identical normalised texts (reposts) are hashed once. Clustering is rebuilt over all
signatures, which is cheap: no text and no per-article LSH query. Rows with identical signatures are collapsed
first (they always match: similarity 1.0 and every LSH band equal), then the LSH buckets are formed by grouping the
distinct signatures on each band slice (the bands datasketch's `MinHashLSH` picks for the threshold), so the
candidate pairs are exactly those a `MinHashLSH.query` would return. Only changed `story_clusters` rows are written.
The SQL is in `newsetl.warehouse.stories`.
"""

from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsetl.reporting.minhash import DedupSettings, lsh_bands, shingle_hashes, signature_rows, signatures
from newsetl.reporting import parallel
from newsetl.reporting.parallel import call, ordered_map
from newsetl.warehouse import stories
from newsetl.warehouse.db import transaction

TEXT_CHUNK = 2000  # articles whose texts are in memory at once
BLOCK_ROWS = 4096  # signatures read, hashed or compared at a time when clustering (2 MB at 128 permutations)
HASH_SEED = 15     # of the row hashes that group identical signatures (any value: equal rows, equal hashes)

__all__ = ["DedupSettings", "DedupStats", "cluster", "cluster_rows", "refresh_story_clusters", "shingle_hashes",
           "signatures"]


@dataclass(frozen=True)
class DedupStats:
    articles: int           # articles clustered
    hashed: int             # signatures (re)computed this time
    stories: int            # clusters, duplicates or not
    duplicate_stories: int  # clusters with two or more articles
    duplicate_articles: int  # articles in those clusters


def _row_keys(block: np.ndarray) -> np.ndarray:
    """One opaque (bytes) key per row, equal exactly when the rows are equal."""
    block = np.ascontiguousarray(block)
    return block.view(np.dtype((np.void, block.dtype.itemsize * block.shape[1]))).ravel()


def _row_hashes(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each of these rows (equal rows, equal hashes), `BLOCK_ROWS` rows copied at a time."""
    weights = np.random.default_rng(HASH_SEED).integers(0, 2**64, matrix.shape[1], dtype=np.uint64) | np.uint64(1)
    hashes = np.empty(len(rows), dtype=np.uint64)
    for start in range(0, len(rows), BLOCK_ROWS):
        block = rows[start:start + BLOCK_ROWS]
        hashes[start:start + len(block)] = matrix[block].astype(np.uint64) @ weights
    return hashes


def _rows_equal(matrix: np.ndarray, rows: np.ndarray, others: np.ndarray) -> bool:
    """Whether each row `rows[i]` equals row `others[i]` (compared `BLOCK_ROWS` at a time)."""
    return all(np.array_equal(matrix[rows[start:start + BLOCK_ROWS]], matrix[others[start:start + BLOCK_ROWS]])
               for start in range(0, len(rows), BLOCK_ROWS))


def _identical(matrix: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group these rows by equal content: (one row of each group, the group of each row).

    Grouped by a 64-bit hash per row, then checked row by row against the group's row; only on a hash collision
    are the whole rows sorted (the exact grouping, which copies every row twice over). The groups come ordered
    by their first two values, as the sorted rows were: near-duplicates side by side made `_components` ~20 %
    faster than in hash order (the components are the same in any order)."""
    _, first, group = np.unique(_row_hashes(matrix, rows), return_index=True, return_inverse=True)
    group = group.ravel()
    if not _rows_equal(matrix, rows, rows[first][group]):
        _, first, group = np.unique(_row_keys(matrix[rows]), return_index=True, return_inverse=True)
        group = group.ravel()
    distinct = rows[first]
    order = np.lexsort(matrix[distinct, :2].T[::-1])
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return distinct[order], rank[group]


def _buckets(keys: np.ndarray) -> list[np.ndarray]:
    """Indices (ascending) of the rows sharing each key, for keys held by two or more rows."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    return [order[a:b] for a, b in zip(starts, ends) if b - a > 1]


def _components(matrix: np.ndarray, distinct: np.ndarray, settings: DedupSettings,
                bands: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Component label of each distinct signature (rows `distinct` of `matrix`): single linkage over LSH
    candidates that reach the threshold.

    Within a bucket each member is compared (vectorised) with the later members not yet in its component;
    pairs already connected are skipped, as union-find would, so the components are the same.
    """
    label = np.arange(len(distinct))
    width = matrix.shape[1]
    for start, end in bands:
        for members in _buckets(_row_keys(matrix[distinct, start:end])):
            for position in range(len(members) - 1):
                row = members[position]
                rest = members[position + 1:]
                rest = rest[label[rest] != label[row]]
                if not len(rest):
                    continue
                others = matrix.take(distinct[rest], axis=0)  # take: faster than fancy indexing on small sets
                similarity = np.count_nonzero(others == matrix[distinct[row]], axis=1) / width
                joined = rest[similarity >= settings.threshold]
                if len(joined):
                    label[np.isin(label, label[joined])] = label[row]
    return label


def cluster_rows(signature_matrix: np.ndarray, present: np.ndarray, settings: DedupSettings,
                 bands: tuple[tuple[int, int], ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`cluster` as two arrays: the index of each row's cluster's first row, and its similarity to that row.

    Memory: beyond the matrix, a few numbers per row and `BLOCK_ROWS` rows copied at a time (no sorted copy of
    the signatures unless two different ones share a 64-bit hash)."""
    if bands is None:
        bands = lsh_bands(settings.threshold, settings.num_perm)
    rows = len(signature_matrix)
    roots = np.arange(rows)
    indices = np.flatnonzero(present)
    if len(indices):
        # Identical signatures always match (similarity 1.0, same bucket in every band): collapse them first.
        distinct, group = _identical(signature_matrix, indices)
        label = _components(signature_matrix, distinct, settings, bands)[group]
        first_row = np.full(label.max() + 1, rows)
        np.minimum.at(first_row, label, indices)  # the component's earliest row names the cluster
        roots[indices] = first_row[label]
    similarity = np.ones(rows)
    others = np.flatnonzero(roots != np.arange(rows))
    for start in range(0, len(others), BLOCK_ROWS):
        block = others[start:start + BLOCK_ROWS]
        matches = np.count_nonzero(signature_matrix[block] == signature_matrix[roots[block]], axis=1)
        similarity[block] = matches / signature_matrix.shape[1]
    return roots, similarity


def cluster(signature_matrix: np.ndarray, present: np.ndarray, settings: DedupSettings,
            bands: tuple[tuple[int, int], ...] | None = None) -> list[tuple[int, float]]:
    """Group rows whose estimated Jaccard similarity reaches the threshold (single linkage over LSH candidates).

    Rows must be in priority order (earliest article first); a row's cluster is named after its first row.
    Returns, per row, (index of the cluster's first row, estimated similarity to that row). `bands`: the LSH
    bands for the settings (`lsh_bands`), computed here when not given.
    """
    roots, similarity = cluster_rows(signature_matrix, present, settings, bands)
    return list(zip(roots.tolist(), similarity.tolist()))


def signature_matrix(con: duckdb.DuckDBPyConnection, num_perm: int) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(article ids in priority order, a uint32 matrix with row i the signature of article i, which rows have one).

    The signatures are read from DuckDB `BLOCK_ROWS` at a time straight into their rows: neither DuckDB nor
    Arrow holds a sorted copy of them all."""
    ids = stories.priority_order(con)
    matrix = np.zeros((len(ids), num_perm), dtype=np.uint32)
    present = np.zeros(len(ids), dtype=bool)
    for batch in stories.signature_batches(con, BLOCK_ROWS):
        position = pc.index_in(batch.column("article_id"), value_set=ids)
        signature = batch.column("signature")
        keep = pc.and_(position.is_valid(), signature.is_valid())
        position = position.filter(keep).to_numpy()
        matrix[position] = signature.filter(keep).flatten().to_numpy().reshape(-1, num_perm)
        present[position] = True
    return ids, matrix, present


def _update_signatures(con: duckdb.DuckDBPyConnection, settings: DedupSettings,
                       pool: ProcessPoolExecutor | None) -> tuple[int, int]:
    """Recompute signatures of new or changed articles (on `pool` when given); drop those of deleted articles.

    Returns (signatures computed, signatures dropped).
    """
    stale = stories.stale_signature_ids(con, settings.params)
    dropped = stories.drop_orphan_signatures(con)
    texts = (stories.signature_texts(con, stale[start:start + TEXT_CHUNK])  # a chunk at a time: memory flat
             for start in range(0, len(stale), TEXT_CHUNK))
    for rows, column in ordered_map(signature_rows, texts, parallel.pool_for(pool, len(stale)), settings):
        stories.write_signatures(con, [row[0] for row in rows], [row[1] for row in rows], settings.params, column)
    return len(stale), dropped


def refresh_story_clusters(con: duckdb.DuckDBPyConnection, settings: DedupSettings,
                           pool: ProcessPoolExecutor | None = None, hashed_before: int = 0,
                           bands: Future | None = None) -> DedupStats:
    """Bring `article_minhash` and `story_clusters` up to date with `articles` (one transaction).

    When no signature was computed or dropped, no article was added, removed or changed its content hash (which
    covers `published_at`, the clusters' naming order), so the stored clusters stand and are not rebuilt: a
    no-op rerun costs two small queries, not a clustering of every signature. With `pool` (the flow's worker
    processes) the signatures and LSH bands are computed there.
    `hashed_before`: signatures the caller already (re)computed this refresh (`refresh_documents(sign=...)`);
    `bands`: `lsh_bands` for these settings, already started on the pool.
    """
    with transaction(con):
        hashed, dropped = _update_signatures(con, settings, pool)
        hashed += hashed_before
        stored = stories.stored_cluster_stats(con) if not hashed and not dropped else None
        if stored is not None:
            return DedupStats(stored[0], 0, stored[1], stored[2], stored[3])
        ids, matrix, present = signature_matrix(con, settings.num_perm)
        roots, similarity = cluster_rows(matrix, present, settings, call(
            lsh_bands, parallel.pool_for(pool, hashed), settings.threshold, settings.num_perm, early=bands))
        del matrix  # O(corpus): gone before DuckDB writes the clusters
        stories.write_clusters(con, ids.take(pa.array(roots)), ids, pa.array(similarity))
    sizes = np.bincount(roots, minlength=len(ids))
    duplicates = sizes[sizes > 1]
    return DedupStats(len(ids), hashed, int(np.count_nonzero(sizes)), len(duplicates), int(duplicates.sum()))
