"""Segment articles into search documents, keyword tokens and search-index postings (pure, no database).

Runs in the worker processes (imports neither Prefect nor DuckDB) or inline: `segment` takes
(article_id, content_hash, title, body) rows and returns Arrow tables for `search_documents`, `article_tokens`
and the postings of the search index (warehouse/search.py gives them document and term ids).
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pyarrow as pa

from newsetl.reporting.minhash import DedupSettings, signature_rows
from newsetl.reporting.text import keyword_terms, search_terms
from newsetl.warehouse.text_schemas import DOCUMENTS_WIRE_SCHEMA, POSTINGS_SCHEMA, TOKENS_WIRE_SCHEMA

BODY_CACHE = 1000  # segmented bodies kept for reposts
# How DuckDB fts split a field into terms: `string_split_regex(text, '\s+')`, empty strings dropped. RE2's `\s`
# is exactly these five characters (Python's `str.split()` would also split on other Unicode spaces).
_TERM_SEPARATOR = re.compile(r"[\t\n\f\r ]+")


def index_terms(text: str) -> tuple[pa.Array, pa.Array]:
    """(distinct terms, their counts) of a space-separated field, split as the BM25 index splits it."""
    counts = Counter(_TERM_SEPARATOR.split(text))
    counts.pop("", None)
    return pa.array(list(counts), type=pa.string()), pa.array(list(counts.values()), type=pa.int32())


@dataclass(slots=True)
class _Segmented:
    search: str                          # search terms joined by spaces
    keywords: list[str]                  # keyword candidates, in order
    postings: tuple[pa.Array, pa.Array]  # `index_terms(search)`


class BodyCache:
    """Segmentation of recently seen bodies (reposts share a body)."""

    def __init__(self, size: int = BODY_CACHE) -> None:
        self.size = size
        self.entries: OrderedDict[str, _Segmented] = OrderedDict()

    def get(self, body: str) -> _Segmented:
        entry = self.entries.get(body)
        if entry is None:
            # keyword_terms(title + "\n" + body) == keyword_terms(title) + keyword_terms(body): jieba never joins
            # across a line break, so the body part can be shared between articles.
            search = " ".join(search_terms(body))
            entry = self.entries[body] = _Segmented(search, keyword_terms(body), index_terms(search))
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        else:
            self.entries.move_to_end(body)
        return entry


_bodies = BodyCache()  # per process: a worker keeps its cache from one chunk to the next


@dataclass(slots=True)
class Segmented:
    docs: pa.Table        # DOCUMENTS_WIRE_SCHEMA (search_documents' rows)
    tokens: pa.Table      # TOKENS_WIRE_SCHEMA (article_tokens' rows)
    postings: pa.Table    # POSTINGS_SCHEMA (doc = row in `docs`)
    lengths: np.ndarray   # terms per document (title + body), int64


def segment(rows: list[tuple[str, str, str, str]], bodies: BodyCache | None = None) -> Segmented:
    """Search documents, keyword tokens and index postings for (article_id, content_hash, title, body) rows.

    The tables have the wire schemas (`DOCUMENTS_WIRE_SCHEMA`, `TOKENS_WIRE_SCHEMA`): the same values with the
    repeated strings dictionary-encoded, which is what crosses the pipe from a worker to the flow process.
    """
    bodies = _bodies if bodies is None else bodies
    title_terms, keyword_counts, per_article = [], [], []
    body_rows: list[int] = []           # per row: its segmented body's position in `body_values`
    body_values: dict[str, int] = {}    # distinct segmented bodies of the chunk (reposts share one)
    terms, tfs, fields, docs_of = [], [], [], []
    for row, (_, _, title, body) in enumerate(rows):
        segmented = bodies.get(body)
        counts = Counter(keyword_terms(title))
        counts.update(segmented.keywords)
        title_search = " ".join(search_terms(title))
        title_terms.append(title_search)
        body_rows.append(body_values.setdefault(segmented.search, len(body_values)))
        keyword_counts.append(sum(counts.values()))
        per_article.append(counts)
        for field, (field_terms, field_tfs) in enumerate((index_terms(title_search), segmented.postings)):
            terms.append(field_terms)
            tfs.append(field_tfs)
            fields.append(field)
            docs_of.append(row)
    docs = pa.table({
        "article_id": [row[0] for row in rows],
        "content_hash": [row[1] for row in rows],
        "title_terms": title_terms,
        "body_terms": pa.DictionaryArray.from_arrays(pa.array(body_rows, type=pa.int32()),
                                                     pa.array(list(body_values), type=pa.string())),
        "keyword_terms": keyword_counts,
    }, schema=DOCUMENTS_WIRE_SCHEMA)
    ids = docs.column("article_id").combine_chunks()
    tokens = pa.table({
        "article_id": pa.DictionaryArray.from_arrays(
            pa.array(np.repeat(np.arange(len(rows), dtype=np.int32),
                               np.array([len(c) for c in per_article], dtype=np.int64))), ids),
        "term": pa.array(list(chain.from_iterable(per_article)), type=pa.string()).dictionary_encode(),
        "tf": list(chain.from_iterable(c.values() for c in per_article)),
    }, schema=TOKENS_WIRE_SCHEMA)
    postings, lengths = _postings(len(rows), docs_of, fields, terms, tfs)
    return Segmented(docs, tokens, postings, lengths)


def _postings(count: int, docs_of: list[int], fields: list[int], terms: list[pa.Array],
              tfs: list[pa.Array]) -> tuple[pa.Table, np.ndarray]:
    """The postings table of `count` documents from per-(document, field) term and count arrays, and the
    documents' lengths (terms over all fields)."""
    sizes = np.array([len(t) for t in terms], dtype=np.int64)
    tf_values = pa.concat_arrays(tfs) if tfs else pa.array([], type=pa.int32())
    postings = pa.table({
        "doc": np.repeat(np.array(docs_of, dtype=np.int32), sizes),
        "field": np.repeat(np.array(fields, dtype=np.uint8), sizes),
        "term": (pa.concat_arrays(terms) if terms else pa.array([], type=pa.string())).dictionary_encode(),
        "tf": tf_values,
    }, schema=POSTINGS_SCHEMA)
    lengths = np.bincount(postings.column("doc").to_numpy(), weights=tf_values.to_numpy(),
                          minlength=count).astype(np.int64)
    return postings, lengths


def document_postings(title_terms: list[str | None], body_terms: list[str | None]) -> tuple[pa.Table, np.ndarray]:
    """Index postings and lengths of already segmented documents (`search_documents` title/body terms)."""
    docs_of, fields, terms, tfs = [], [], [], []
    for row, texts in enumerate(zip(title_terms, body_terms)):
        for field, text in enumerate(texts):
            field_terms, field_tfs = index_terms(text or "")
            docs_of.append(row)
            fields.append(field)
            terms.append(field_terms)
            tfs.append(field_tfs)
    return _postings(len(title_terms), docs_of, fields, terms, tfs)


def segment_and_sign(job: tuple[pa.RecordBatch, np.ndarray | None, bool],
                     settings: DedupSettings) -> tuple[Segmented, pa.Array | None]:
    """`segment` of a batch of (article_id, content_hash, title, body) rows, and the MinHash signature column of
    the rows marked in the boolean mask `sign` (None when none is): one read of the texts serves both (the
    worker's job for a chunk of the analytics step)."""
    batch, sign = job[0], job[1]
    rows = list(zip(*(column.to_pylist() for column in batch.columns)))
    marked = [(row[0], row[1], row[3]) for row, wanted in zip(rows, sign) if wanted] if sign is not None else []
    return segment(rows), (signature_rows(marked, settings) if marked else None)
