"""Arrow schemas of the tables the loader writes, one per table, matching migrations/001 and 005.

Imports only pyarrow: the worker processes build their Arrow tables with these (newsetl/posts/tables.py)
and must import neither Prefect nor DuckDB.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

# `articles`: the columns the worker knows; the loader adds first_seen_at, updated_at (TS) and run_id.
CONTENT_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("source", pa.string()), ("source_type", pa.string()),
    ("locator", pa.string()), ("url", pa.string()), ("title", pa.string()), ("author", pa.string()),
    ("published_at", TS), ("categories", pa.list_(pa.string())), ("editor", pa.string()),
    ("origin", pa.string()), ("summary", pa.string()), ("body_text", pa.string()), ("body_html", pa.string()),
    ("char_count", pa.int32()), ("paragraph_count", pa.int32()), ("image_count", pa.int32()),
    ("content_hash", pa.string()), ("rules_version", pa.string()),
    ("body_format", pa.string()), ("date_source", pa.string()), ("source_updated_at", TS),  # migration 007
    ("tags", pa.list_(pa.string())), ("lang", pa.string()), ("warnings", pa.list_(pa.string())),
    ("byline", pa.string()), ("photo_credit", pa.string()), ("headline_only", pa.bool_()),  # migration 008
    ("repairs", pa.list_(pa.string())),
    ("category_paths", pa.list_(pa.list_(pa.string()))),  # migration 012: Hexo's category hierarchies
])

PARAGRAPH_SCHEMA = pa.schema([("article_id", pa.string()), ("position", pa.int32()), ("kind", pa.string()),
                              ("text", pa.string()),
                              ("level", pa.int8()), ("lang", pa.string())])  # migration 007: heading level, code language

ARTICLE_IMAGE_SCHEMA = pa.schema([("article_id", pa.string()), ("position", pa.int32()), ("role", pa.string()),
                                  ("url", pa.string()), ("alt", pa.string()), ("caption", pa.string()),
                                  ("roles", pa.list_(pa.string())), ("credit", pa.string())])

SOURCE_FILE_SCHEMA = pa.schema([("source", pa.string()), ("locator", pa.string()), ("file_hash", pa.string()),
                                ("size", pa.int64()), ("article_id", pa.string()), ("status", pa.string()),
                                ("run_id", pa.string()), ("seen_at", TS),
                                ("mtime_ns", pa.int64()), ("inode", pa.uint64()), ("hash_salt", pa.string())])  # 009

REJECT_SCHEMA = pa.schema([("run_id", pa.string()), ("source", pa.string()), ("locator", pa.string()),
                           ("stage", pa.string()), ("error", pa.string()), ("seen_at", TS)])

RAW_POST_SCHEMA = pa.schema([("article_id", pa.string()), ("source", pa.string()), ("source_type", pa.string()),
                             ("locator", pa.string()), ("post", pa.string()), ("stored_at", TS)])
