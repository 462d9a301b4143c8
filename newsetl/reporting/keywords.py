"""Segmented text and keyword tokens: `search_documents` (for full-text search), `article_tokens` (TF-IDF) and
the search index (`newsetl.warehouse.search`), all three written together, a chunk of articles at a time.

Only new or changed articles (by content hash) are segmented again; rows of deleted articles are dropped.
Segmentation (rjieba) runs on the worker processes when the flow's process pool is running, otherwise here;
a body shared by several articles (reposts) is segmented once per process (a bounded cache of recent bodies).
The SQL and the tables' Arrow schemas are in `newsetl.warehouse`.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newsetl.reporting.minhash import DedupSettings
from newsetl.reporting import parallel
from newsetl.reporting.parallel import ordered_map
from newsetl.reporting.segment import BodyCache, Segmented, segment, segment_and_sign
from newsetl.warehouse import keywords, search, stories
from newsetl.warehouse.db import transaction

CHUNK = 1000  # articles segmented and written together (one transaction each): memory flat in corpus size

__all__ = ["BodyCache", "Segmented", "TokenRefresh", "refresh_documents", "refresh_tokens", "segment"]


@dataclass(frozen=True)
class TokenRefresh:
    segmented: int   # articles (re)segmented
    indexed: int     # search documents added to, removed from or rewritten in the search index
    signed: int = 0  # MinHash signatures (re)computed on the way (`sign`)


def _index(con: duckdb.DuckDBPyConnection, segmented: Segmented, reindex: set[str], terms: search.TermIds) -> None:
    """Write the index rows of the documents in `reindex` (a subset of the chunk's documents)."""
    ids = segmented.docs.column("article_id").combine_chunks()
    keep = np.asarray(pc.is_in(ids, value_set=pa.array(sorted(reindex), type=pa.string())).to_numpy(
        zero_copy_only=False), dtype=bool)
    postings, lengths = segmented.postings, segmented.lengths
    if not keep.all():  # renumber the kept documents 0, 1, 2, ... and keep only their postings
        rank = np.full(len(keep), -1, dtype=np.int32)
        rank[keep] = np.arange(int(keep.sum()), dtype=np.int32)
        doc = rank[postings.column("doc").to_numpy()]
        postings = postings.filter(pa.array(doc >= 0)).set_column(0, "doc", pa.array(doc[doc >= 0]))
        ids, lengths = ids.filter(pa.array(keep)), lengths[keep]
    search.index_documents(con, ids, postings, lengths, terms)


def refresh_documents(con: duckdb.DuckDBPyConnection, pool: ProcessPoolExecutor | None = None,
                      sign: DedupSettings | None = None) -> TokenRefresh:
    """Bring `search_documents`, `article_tokens` and the search index up to date with `articles`.

    Each chunk of articles is one transaction (its documents, tokens and index rows together), so a run that
    stops half-way keeps what it finished and the next refresh does the rest. With `sign`, the stale MinHash
    signatures (`article_minhash`) of the articles read here are computed from the same texts and written too,
    so the dedup step does not read them again.
    """
    with transaction(con):
        keywords.drop_orphans(con)
        indexed = search.drop_orphans(con)
    stale = keywords.stale_count(con)
    if not stale:  # a no-op rerun: nothing to read
        return TokenRefresh(0, indexed)
    signing = set(stories.stale_signature_ids(con, sign.params)) if sign is not None else set()
    terms = search.TermIds(con)
    jobs = ((rows, [row[0] in signing for row in rows]) for rows in keywords.stale_texts(con, CHUNK))
    signed = 0
    chunks = ordered_map(segment_and_sign, jobs, parallel.pool_for(pool, stale), sign or DedupSettings())
    for (rows, wanted), (segmented, signatures) in chunks:
        with transaction(con):
            reindex = keywords.write_documents(con, segmented.docs, segmented.tokens)
            if reindex:
                _index(con, segmented, reindex, terms)
            if signatures is not None:
                marked = [row for row, w in zip(rows, wanted) if w]
                stories.write_signatures(con, [row[0] for row in marked], [row[1] for row in marked], sign.params,
                                         signatures)
                signed += len(marked)
        indexed += len(reindex)
    return TokenRefresh(stale, indexed, signed)


def refresh_tokens(con: duckdb.DuckDBPyConnection) -> int:
    """Bring `search_documents` and `article_tokens` up to date with `articles`; returns articles segmented."""
    return refresh_documents(con).segmented
