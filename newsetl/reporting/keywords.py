"""Segmented text and keyword tokens: `search_documents` (for full-text search), the keyword tokens (TF-IDF;
the view `article_tokens`) and the search index (`newsetl.warehouse.search`), all three written together, a
chunk of articles at a time.

Only new or changed articles (by content hash) are segmented again; rows of deleted articles are dropped.
Segmentation (rjieba) runs on the worker processes when the flow's process pool is running, otherwise here;
a body shared by several articles (reposts) is segmented once per process (a bounded cache of recent bodies).
The SQL and the tables' Arrow schemas are in `newsetl.warehouse`.
"""

from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsetl.reporting.minhash import DedupSettings, lsh_bands
from newsetl.reporting import parallel
from newsetl.reporting.parallel import OrderedMap
from newsetl.reporting.segment import BodyCache, Segmented, segment, segment_and_sign
from newsetl.warehouse import keywords, search, stories
from newsetl.warehouse.db import transaction

CHUNK = 1000  # articles segmented and written together (one transaction each): memory flat in corpus size

__all__ = ["BodyCache", "Segmented", "StartedRefresh", "TokenRefresh", "refresh_documents", "refresh_tokens", "segment",
           "start_documents"]


@dataclass(frozen=True)
class TokenRefresh:
    segmented: int   # articles (re)segmented
    indexed: int     # search documents added to, removed from or rewritten in the search index
    signed: int = 0  # MinHash signatures (re)computed on the way (`sign`)
    bands: Future | None = None  # the LSH bands for `sign`, started on the pool once every chunk was handed out


def _index(con: duckdb.DuckDBPyConnection, segmented: Segmented, reindex: set[str], terms: search.TermIds,
           new: bool) -> pa.Array:
    """Write the index rows of the documents in `reindex` (a subset of the chunk's documents); `new`: none of
    the chunk's articles had a search document, so none is in the index. Returns the docid of each of the
    chunk's documents, in their order (new ones for those reindexed, the ones they had for the others)."""
    ids = segmented.docs.column("article_id").combine_chunks()
    keep = np.asarray(pc.is_in(ids, value_set=pa.array(sorted(reindex), type=pa.string())).to_numpy(
        zero_copy_only=False), dtype=bool)
    if keep.all():
        return search.index_documents(con, ids, segmented.postings, segmented.lengths, terms, new=new)
    # renumber the kept documents 0, 1, 2, ... and keep only their postings
    rank = np.full(len(keep), -1, dtype=np.int32)
    rank[keep] = np.arange(int(keep.sum()), dtype=np.int32)
    postings = segmented.postings
    doc = rank[postings.column("doc").to_numpy()]
    postings = postings.filter(pa.array(doc >= 0)).set_column(0, "doc", pa.array(doc[doc >= 0]))
    added = search.index_documents(con, ids.filter(pa.array(keep)), postings, segmented.lengths[keep], terms,
                                   new=new).to_numpy()
    docids = search.docids(con, ids.filter(pa.array(~keep))).to_numpy()  # segmented as before: same docids
    merged = np.empty(len(keep), dtype=np.int64)
    merged[keep], merged[~keep] = added, docids
    return pa.array(merged)


def _marked(batch: pa.RecordBatch, signing: pa.Array) -> np.ndarray | None:
    """Which rows of `batch` need a new signature (a boolean mask), None when none does."""
    if not len(signing):
        return None
    wanted = np.asarray(pc.is_in(batch.column("article_id"), value_set=signing).to_numpy(zero_copy_only=False),
                        dtype=bool)
    return wanted if wanted.any() else None


class StartedRefresh:
    """The first half of `refresh_documents` (`start_documents`): what it read, and the chunks it handed out.

    A plain class, as `AnalyticsAhead` that carries it into the analytics task: Prefect looks inside dataclass
    parameters for futures and states, and this holds futures of the worker pool."""

    def __init__(self, indexed: int, stale: int = 0, sign: DedupSettings | None = None) -> None:
        self.indexed = indexed                   # search documents removed with their articles
        self.stale = stale                       # articles to (re)segment
        self.sign = sign
        self.terms: search.TermIds | None = None
        self.chunks: OrderedMap | None = None    # (texts, wanted, replacing), (Segmented, signatures) in order
        self.bands: list[Future | None] = []


def start_documents(con: duckdb.DuckDBPyConnection, pool: ProcessPoolExecutor | None = None,
                    sign: DedupSettings | None = None) -> StartedRefresh:
    """Drop the orphans' rows, count the stale articles and hand their first chunks to the workers, which
    segment (and sign) them while the caller does something else; `refresh_documents(started=...)` writes."""
    with transaction(con):
        keywords.drop_orphans(con)
        indexed = search.drop_orphans(con)
    started = StartedRefresh(indexed, keywords.stale_count(con), sign)
    if not started.stale:  # a no-op rerun: nothing to read
        return started
    signing = pa.array(stories.stale_signature_ids(con, sign.params) if sign is not None else [], type=pa.string())
    started.terms = search.TermIds(con)
    workers = parallel.pool_for(pool, started.stale)

    def jobs() -> Iterator[tuple[pa.RecordBatch, np.ndarray | None, bool]]:
        for batch in keywords.stale_texts(con, CHUNK):
            replacing = bool(pc.any(batch.column("documented")).as_py())
            texts = batch.drop_columns(["documented"])
            yield texts, _marked(texts, signing), replacing
        if sign is not None:  # a worker imports datasketch for the bands while this process writes the last chunks
            started.bands.append(parallel.submit(workers, lsh_bands, sign.threshold, sign.num_perm))

    started.chunks = OrderedMap(segment_and_sign, jobs(), workers, sign or DedupSettings())
    started.chunks.hand_out()
    return started


def refresh_documents(con: duckdb.DuckDBPyConnection, pool: ProcessPoolExecutor | None = None,
                      sign: DedupSettings | None = None, started: StartedRefresh | None = None) -> TokenRefresh:
    """Bring `search_documents`, `article_tokens` and the search index up to date with `articles`.

    Each chunk of articles is one transaction (its documents, tokens and index rows together), so a run that
    stops half-way keeps what it finished and the next refresh does the rest. With `sign`, the stale MinHash
    signatures (`article_minhash`) of the articles read here are computed from the same texts and written too,
    so the dedup step does not read them again. `started`: `start_documents` ran already (then `pool` and
    `sign` are its).
    """
    started = started or start_documents(con, pool, sign)
    indexed, signed, sign = started.indexed, 0, started.sign
    if started.chunks is None:
        return TokenRefresh(0, indexed)
    for (batch, wanted, replacing), (segmented, signatures) in started.chunks:
        with transaction(con):
            reindex = keywords.write_documents(con, segmented.docs, replacing)
            docids = _index(con, segmented, reindex, started.terms, new=not replacing)
            keywords.write_tokens(con, docids, segmented.tokens, started.terms, replacing)
            if signatures is not None:
                marked = batch.filter(pa.array(wanted))
                stories.write_signatures(con, marked.column("article_id"), marked.column("content_hash"),
                                         sign.params, signatures)
                signed += marked.num_rows
        indexed += len(reindex)
    started.chunks = None  # iterated once
    return TokenRefresh(started.stale, indexed, signed, started.bands[0] if started.bands else None)


def refresh_tokens(con: duckdb.DuckDBPyConnection) -> int:
    """Bring `search_documents`, the keyword tokens and the search index up to date with `articles`; returns
    articles segmented."""
    return refresh_documents(con).segmented
