"""MinHash signatures of texts and the LSH bands for a threshold (pure: no database; runs on the worker processes).

Signatures are datasketch's `MinHash(num_perm, seed=SEED, scheme="affine32")` over the shingle hashes, computed
here with the same numpy arithmetic (`_Permutations`): importing datasketch loads scipy (0.5-0.7 s of CPU in
each process), which the analytics step paid in every worker and made its first chunk wait for.
tests/test_dedup.py compares these signatures with datasketch's on real and generated texts. datasketch is still
imported for the LSH bands (`lsh_bands`: its optimal band/row split for the threshold), once per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from newsetl.reporting.text import normalize

SCHEME = "affine32"
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


# MurmurHash3's 32-bit finalizer (datasketch.minhash._FMIX_CONSTANTS[32]): datasketch mixes each input hash once
# with it before the affine permutations.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
_MAX32 = np.uint32(0xFFFFFFFF)


class _Permutations:
    """datasketch's "affine32" MinHash: h -> a * fmix32(h) + b mod 2^32 for `num_perm` odd a and any b drawn from
    `numpy.random.RandomState(seed)` in datasketch's order (`MinHash._init_permutations`); the signature is the
    minimum of each permutation over the input hashes (`MinHash.update_batch`)."""

    def __init__(self, num_perm: int, seed: int) -> None:
        generator = np.random.RandomState(seed)
        self.a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        self.b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)

    def signature(self, hashes: np.ndarray) -> np.ndarray:
        """The MinHash signature (uint32, one value per permutation) of these uint32 hashes."""
        s1, m1, s2, m2, s3 = _FMIX32
        mixed = hashes.astype(np.uint32)
        mixed = (mixed ^ (mixed >> s1)) * m1
        mixed = (mixed ^ (mixed >> s2)) * m2
        mixed = (mixed ^ (mixed >> s3)).reshape(-1, 1)
        if not len(mixed):
            return np.full(len(self.a), _MAX32, dtype=np.uint32)
        return (mixed * self.a + self.b).min(axis=0)


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> _Permutations:
    return _Permutations(num_perm, seed)


def signatures(texts: list[str], settings: DedupSettings) -> list[np.ndarray | None]:
    """MinHash signature (uint32 array) of each text; None for texts shorter than `min_chars`."""
    permutations = _permutations(settings.num_perm, SEED)
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
                signature = by_normalized[normalized] = permutations.signature(
                    shingle_hashes(normalized, settings.shingle_size))
        by_text[text] = signature
        result.append(signature)
    return result


@lru_cache(maxsize=8)
def lsh_bands(threshold: float, num_perm: int) -> tuple[tuple[int, int], ...]:
    """The (start, end) signature slices datasketch's `MinHashLSH` uses as bands for these settings."""
    from datasketch import MinHashLSH

    return tuple(MinHashLSH(threshold=threshold, num_perm=num_perm).hashranges)


def signature_column(sigs: list[np.ndarray | None], width: int) -> pa.Array:
    """A list<uint32> column of the signatures (null where None), built from numpy without Python ints."""
    present = np.array([s is not None for s in sigs], dtype=bool)
    values = np.concatenate([s for s in sigs if s is not None]) if present.any() else np.zeros(0, np.uint32)
    offsets = np.zeros(len(sigs) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(present * width)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.uint32()),
                                    mask=pa.array(~present))


def signature_rows(rows: list[tuple[str, str, str]], settings: DedupSettings) -> pa.Array:
    """The list<uint32> signature column of (article_id, content_hash, body) rows (null for too-short bodies)."""
    return signature_column(signatures([row[2] for row in rows], settings), settings.num_perm)
