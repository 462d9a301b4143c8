"""Arrow schemas of the analytics text tables: `search_documents`, `article_tokens` and the search index's postings.

Imports only pyarrow: the worker processes segment articles into tables of these schemas
(newsetl/reporting/segment.py) and must import neither Prefect nor DuckDB.
"""

from __future__ import annotations

import pyarrow as pa

SEARCH_DOCUMENTS_SCHEMA = pa.schema([
    ("article_id", pa.string()),
    ("content_hash", pa.string()),
    ("title_terms", pa.string()),
    ("body_terms", pa.string()),
    ("keyword_terms", pa.int32()),
])
ARTICLE_TOKENS_SCHEMA = pa.schema([
    ("article_id", pa.string()),
    ("term", pa.string()),
    ("tf", pa.int32()),
])
# The same two tables as a worker sends them to the flow process (newsetl/reporting/segment.py): repeated strings
# dictionary-encoded, so the pipe carries each once per chunk (a token row's article id, a repost's segmented body,
# a term of many articles). DuckDB inserts them into the VARCHAR columns as the plain strings.
DOCUMENTS_WIRE_SCHEMA = pa.schema([
    SEARCH_DOCUMENTS_SCHEMA.field("article_id"),
    SEARCH_DOCUMENTS_SCHEMA.field("content_hash"),
    SEARCH_DOCUMENTS_SCHEMA.field("title_terms"),
    ("body_terms", pa.dictionary(pa.int32(), pa.string())),
    SEARCH_DOCUMENTS_SCHEMA.field("keyword_terms"),
])
TOKENS_WIRE_SCHEMA = pa.schema([
    ("article_id", pa.dictionary(pa.int32(), pa.string())),
    ("term", pa.dictionary(pa.int32(), pa.string())),
    ("tf", pa.int32()),
])
# Term counts of a chunk's documents before term and document ids are assigned (warehouse/search.py does that):
# `doc` is the row of the document in its chunk, `field` 0 for title_terms, 1 for body_terms; `term` is
# dictionary-encoded (each distinct term of the chunk once), so looking up term ids costs per distinct term.
POSTINGS_SCHEMA = pa.schema([
    ("doc", pa.int32()),
    ("field", pa.uint8()),
    ("term", pa.dictionary(pa.int32(), pa.string())),
    ("tf", pa.int32()),
])
