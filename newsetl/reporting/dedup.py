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

from dataclasses import dataclass
from functools import lru_cache

import duckdb
import numpy as np
import pyarrow as pa

from newsetl.reporting.text import normalize
from newsetl.warehouse import stories
from newsetl.warehouse.db import transaction

SCHEME = "affine32"
TEXT_CHUNK = 2000  # articles whose texts are in memory at once
SEED = 1
_PRIME = np.uint64(1_000_003)


@dataclass(frozen=True)
class DedupSettings:
    """How near-duplicates are found (the `reporting:` config section)."""

    threshold: float = 0.5     # estimated Jaccard similarity of shingle sets at or above which two texts match
    shingle_size: int = 5      # characters per shingle, after normalisation
    num_perm: int = 128        # MinHash permutations
    min_chars: int = 30        # normalised texts shorter than this are never matched

    @property
    def params(self) -> str:
        return f"k={self.shingle_size};perm={self.num_perm};min={self.min_chars};scheme={SCHEME};seed={SEED}"


@dataclass(frozen=True)
class DedupStats:
    articles: int           # articles clustered
    hashed: int             # signatures (re)computed this time
    stories: int            # clusters, duplicates or not
    duplicate_stories: int  # clusters with two or more articles
    duplicate_articles: int  # articles in those clusters


def shingle_hashes(normalized: str, size: int) -> np.ndarray:
    """Distinct 32-bit hashes of the `size`-character shingles of an already normalised text."""
    codes = np.frombuffer(normalized.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    count = len(codes) - size + 1
    if count < 1:
        count, size = 1, len(codes)
    hashes = np.zeros(count, dtype=np.uint64)
    for offset in range(size):
        hashes = hashes * _PRIME + codes[offset:offset + count]
    return np.unique(((hashes >> np.uint64(32)) ^ hashes) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _identity(value: int) -> int:
    return value


def signatures(texts: list[str], settings: DedupSettings) -> list[np.ndarray | None]:
    """MinHash signature (uint32 array) of each text; None for texts shorter than `min_chars`."""
    from datasketch import MinHash  # imported when needed: datasketch loads scipy, ~1 s of every start-up

    base = MinHash(num_perm=settings.num_perm, seed=SEED, hashfunc=_identity, scheme=SCHEME)
    by_text: dict[str, np.ndarray | None] = {}        # reposts: the same text is normalised and hashed once
    by_normalized: dict[str, np.ndarray] = {}         # texts differing only in spacing/punctuation/case
    result: list[np.ndarray | None] = []
    for text in texts:
        if text in by_text:
            result.append(by_text[text])
            continue
        normalized = normalize(text)
        signature = None
        if len(normalized) >= settings.min_chars:
            signature = by_normalized.get(normalized)
            if signature is None:
                minhash = base.copy()
                minhash.update_batch(shingle_hashes(normalized, settings.shingle_size).tolist())
                signature = by_normalized[normalized] = np.asarray(minhash.hashvalues, dtype=np.uint32)
        by_text[text] = signature
        result.append(signature)
    return result


@lru_cache(maxsize=8)
def lsh_bands(threshold: float, num_perm: int) -> tuple[tuple[int, int], ...]:
    """The (start, end) signature slices datasketch's `MinHashLSH` uses as bands for these settings."""
    from datasketch import MinHashLSH

    return tuple(MinHashLSH(threshold=threshold, num_perm=num_perm).hashranges)


def _row_keys(block: np.ndarray) -> np.ndarray:
    """One opaque (bytes) key per row, equal exactly when the rows are equal."""
    block = np.ascontiguousarray(block)
    return block.view(np.dtype((np.void, block.dtype.itemsize * block.shape[1]))).ravel()


def _buckets(keys: np.ndarray) -> list[np.ndarray]:
    """Indices (ascending) of the rows sharing each key, for keys held by two or more rows."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    return [order[a:b] for a, b in zip(starts, ends) if b - a > 1]


def _components(distinct: np.ndarray, settings: DedupSettings) -> np.ndarray:
    """Component label of each distinct signature: single linkage over LSH candidates that reach the threshold.

    Within a bucket each member is compared (vectorised) with the later members not yet in its component;
    pairs already connected are skipped, as union-find would, so the components are the same.
    """
    label = np.arange(len(distinct))
    width = distinct.shape[1]
    for start, end in lsh_bands(settings.threshold, settings.num_perm):
        for members in _buckets(_row_keys(distinct[:, start:end])):
            for position in range(len(members) - 1):
                row = members[position]
                rest = members[position + 1:]
                rest = rest[label[rest] != label[row]]
                if not len(rest):
                    continue
                similarity = np.count_nonzero(distinct[rest] == distinct[row], axis=1) / width
                joined = rest[similarity >= settings.threshold]
                if len(joined):
                    label[np.isin(label, label[joined])] = label[row]
    return label


def cluster(signature_matrix: np.ndarray, present: np.ndarray, settings: DedupSettings) -> list[tuple[int, float]]:
    """Group rows whose estimated Jaccard similarity reaches the threshold (single linkage over LSH candidates).

    Rows must be in priority order (earliest article first); a row's cluster is named after its first row.
    Returns, per row, (index of the cluster's first row, estimated similarity to that row).
    """
    rows = len(signature_matrix)
    roots = np.arange(rows)
    indices = np.flatnonzero(present)
    if len(indices):
        # Identical signatures always match (similarity 1.0, same bucket in every band): collapse them first.
        _, first, inverse = np.unique(_row_keys(signature_matrix[indices]), return_index=True, return_inverse=True)
        label = _components(signature_matrix[indices[first]], settings)[inverse.ravel()]
        first_row = np.full(label.max() + 1, rows)
        np.minimum.at(first_row, label, indices)  # the component's earliest row names the cluster
        roots[indices] = first_row[label]
    similarity = np.ones(rows)
    others = np.flatnonzero(roots != np.arange(rows))
    if len(others):
        matches = np.count_nonzero(signature_matrix[others] == signature_matrix[roots[others]], axis=1)
        similarity[others] = matches / signature_matrix.shape[1]
    return [(int(root), float(sim)) for root, sim in zip(roots, similarity)]


def _signature_column(sigs: list[np.ndarray | None], width: int) -> pa.Array:
    """A list<uint32> column of the signatures (null where None), built from numpy without Python ints."""
    present = np.array([s is not None for s in sigs], dtype=bool)
    values = np.concatenate([s for s in sigs if s is not None]) if present.any() else np.zeros(0, np.uint32)
    offsets = np.zeros(len(sigs) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(present * width)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.uint32()),
                                    mask=pa.array(~present))


def _update_signatures(con: duckdb.DuckDBPyConnection, settings: DedupSettings) -> tuple[int, int]:
    """Recompute signatures of new or changed articles; drop those of deleted articles.

    Returns (signatures computed, signatures dropped).
    """
    stale = stories.stale_signature_ids(con, settings.params)
    dropped = stories.drop_orphan_signatures(con)
    for start in range(0, len(stale), TEXT_CHUNK):  # texts read a chunk at a time: memory flat in corpus size
        rows = stories.signature_texts(con, stale[start:start + TEXT_CHUNK])
        sigs = signatures([row[2] for row in rows], settings)
        stories.write_signatures(con, [row[0] for row in rows], [row[1] for row in rows], settings.params,
                                 _signature_column(sigs, settings.num_perm))
    return len(stale), dropped


def refresh_story_clusters(con: duckdb.DuckDBPyConnection, settings: DedupSettings) -> DedupStats:
    """Bring `article_minhash` and `story_clusters` up to date with `articles` (one transaction).

    When no signature was computed or dropped, no article was added, removed or changed its content hash (which
    covers `published_at`, the clusters' naming order), so the stored clusters stand and are not rebuilt: a
    no-op rerun costs two small queries, not a clustering of every signature.
    """
    with transaction(con):
        hashed, dropped = _update_signatures(con, settings)
        stored = stories.stored_cluster_stats(con) if not hashed and not dropped else None
        if stored is not None:
            return DedupStats(stored[0], 0, stored[1], stored[2], stored[3])
        loaded = stories.signatures_in_priority_order(con)
        ids = loaded.column("article_id").to_pylist()
        column = loaded.column("signature").combine_chunks()
        present = ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        matrix = np.zeros((len(ids), settings.num_perm), dtype=np.uint32)
        if present.any():
            matrix[present] = column.drop_null().flatten().to_numpy().reshape(-1, settings.num_perm)
        groups = cluster(matrix, present, settings)
        stories.write_clusters(con, [ids[root] for root, _ in groups], ids, [sim for _, sim in groups])
    sizes: dict[int, int] = {}
    for root, _ in groups:
        sizes[root] = sizes.get(root, 0) + 1
    duplicates = [size for size in sizes.values() if size > 1]
    return DedupStats(len(ids), hashed, len(sizes), len(duplicates), sum(duplicates))
