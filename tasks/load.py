"""Load step: one cleaned batch into DuckDB, in one transaction, as bulk Arrow inserts.

A changed article replaces its row and its child rows; an article whose cleaned content did not change
is left alone (only its input state is updated). If anything fails the batch rolls back whole, so a crash
never leaves a half-loaded article.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple
from datetime import datetime, timezone

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from prefect.cache_policies import NO_CACHE

from newsetl.models import Article, Batch, Reject
from warehouse.db import transaction


@dataclass(slots=True)
class LoadCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, other: "LoadCounts") -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected


TS = pa.timestamp("us", tz="UTC")
CONTENT_SCHEMA = pa.schema([  # article columns the worker knows; the loader adds first_seen/updated/run
    ("article_id", pa.string()), ("source", pa.string()), ("source_type", pa.string()),
    ("locator", pa.string()), ("url", pa.string()), ("title", pa.string()), ("author", pa.string()),
    ("published_at", TS), ("categories", pa.list_(pa.string())), ("editor", pa.string()),
    ("origin", pa.string()), ("summary", pa.string()), ("body_text", pa.string()), ("body_html", pa.string()),
    ("char_count", pa.int32()), ("paragraph_count", pa.int32()), ("image_count", pa.int32()),
    ("content_hash", pa.string()), ("rules_version", pa.string()),
])
PARAGRAPH_SCHEMA = pa.schema([("article_id", pa.string()), ("position", pa.int32()), ("kind", pa.string()),
                              ("text", pa.string())])
IMAGE_SCHEMA = pa.schema([("article_id", pa.string()), ("position", pa.int32()), ("role", pa.string()),
                          ("url", pa.string()), ("alt", pa.string()), ("caption", pa.string()),
                          ("roles", pa.list_(pa.string()))])
SOURCE_FILE_SCHEMA = pa.schema([("source", pa.string()), ("locator", pa.string()), ("file_hash", pa.string()),
                                ("size", pa.int64()), ("article_id", pa.string()), ("status", pa.string()),
                                ("run_id", pa.string()), ("seen_at", TS)])
REJECT_SCHEMA = pa.schema([("run_id", pa.string()), ("source", pa.string()), ("locator", pa.string()),
                           ("stage", pa.string()), ("error", pa.string()), ("seen_at", TS)])


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def _existing_hashes(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, tuple[str, datetime]]:
    if not ids:
        return {}
    con.register("load_ids", pa.table({"article_id": pa.array(ids, pa.string())}))
    try:
        rows = con.execute(
            "SELECT a.article_id, a.content_hash, a.first_seen_at FROM articles a "
            "JOIN load_ids USING (article_id)"
        ).fetchall()
    finally:
        con.unregister("load_ids")
    return {row[0]: (row[1], row[2]) for row in rows}


class ArticleTables:
    """A cleaned batch as Arrow tables: built by the workers, so the single loader only inserts."""

    __slots__ = ("articles", "paragraphs", "images")

    def __init__(self, articles: pa.Table, paragraphs: pa.Table, images: pa.Table) -> None:
        self.articles, self.paragraphs, self.images = articles, paragraphs, images


def article_tables(articles: list[Article]) -> ArticleTables:
    """Columnar Arrow tables for a batch of articles (and their paragraphs and images)."""
    columns: dict[str, list] = {name: [] for name in CONTENT_SCHEMA.names}
    paragraphs: dict[str, list] = {name: [] for name in PARAGRAPH_SCHEMA.names}
    images: dict[str, list] = {name: [] for name in IMAGE_SCHEMA.names}
    for a in articles:
        for name in CONTENT_SCHEMA.names:
            columns[name].append(getattr(a, name))
        for position, (kind, text) in enumerate(a.paragraphs):
            paragraphs["article_id"].append(a.article_id)
            paragraphs["position"].append(position)
            paragraphs["kind"].append(kind)
            paragraphs["text"].append(text)
        for image in a.images:
            images["article_id"].append(a.article_id)
            for name in ("position", "role", "url", "alt", "caption", "roles"):
                images[name].append(getattr(image, name))
    return ArticleTables(pa.table(columns, schema=CONTENT_SCHEMA), pa.table(paragraphs, schema=PARAGRAPH_SCHEMA),
                         pa.table(images, schema=IMAGE_SCHEMA))


class ArticleKey(NamedTuple):
    """What the loader needs to know about a cleaned article besides its Arrow rows."""

    article_id: str
    content_hash: str
    source: str
    locator: str
    file_hash: str


def cleaned_batch(articles: list[Article], rejects: list[Reject]) -> Batch:
    """A batch ready to load: article keys + Arrow tables (the Article objects can be freed)."""
    articles = list({a.article_id: a for a in articles}.values())  # the same id twice: the last one wins
    keys = [ArticleKey(a.article_id, a.content_hash, a.source, a.locator, a.file_hash) for a in articles]
    return Batch(keys, rejects, article_tables(articles))


def _only(table: pa.Table, ids: pa.Array) -> pa.Table:
    return table.filter(pc.is_in(table["article_id"], value_set=ids))


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, verb: str = "INSERT") -> None:
    if data.num_rows:
        con.register("load_stage", data)
        try:
            con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM load_stage")
        finally:
            con.unregister("load_stage")


def load_batch(con: duckdb.DuckDBPyConnection, batch: Batch, run_id: str, force: bool = False) -> LoadCounts:
    """Upsert a cleaned Batch (see `cleaned_batch`) and record its Rejects, in one transaction.

    `force` rewrites articles whose content did not change (backfill and reprocessing).
    """
    now = datetime.now(timezone.utc)
    articles: list[ArticleKey] = batch.items
    rejects: list[Reject] = batch.rejects
    counts = LoadCounts(rejected=len(rejects))
    with transaction(con):
        existing = _existing_hashes(con, [a.article_id for a in articles])
        changed: list[str] = []
        for article in articles:
            old = existing.get(article.article_id)
            if old is None:
                counts.new += 1
                changed.append(article.article_id)
            elif force or old[0] != article.content_hash:
                counts.updated += 1
                changed.append(article.article_id)
            else:
                counts.unchanged += 1
        if changed:
            tables: ArticleTables = batch.tables
            ids = pa.array(changed, pa.string())
            rows = _only(tables.articles, ids)
            first_seen = [existing[i][1] if i in existing else now for i in rows["article_id"].to_pylist()]
            rows = rows.append_column(pa.field("first_seen_at", TS), pa.array(first_seen, TS)) \
                .append_column(pa.field("updated_at", TS), pa.array([now] * rows.num_rows, TS)) \
                .append_column("run_id", pa.array([run_id] * rows.num_rows, pa.string()))
            con.register("changed_ids", pa.table({"article_id": ids}))
            try:
                for child in ("paragraphs", "article_images"):
                    con.execute(f"DELETE FROM {child} WHERE article_id IN (SELECT article_id FROM changed_ids)")
            finally:
                con.unregister("changed_ids")
            _insert(con, "articles", rows, "INSERT OR REPLACE")
            _insert(con, "paragraphs", _only(tables.paragraphs, ids))
            _insert(con, "article_images", _only(tables.images, ids))
        state = [{"source": a.source, "locator": a.locator, "file_hash": a.file_hash, "size": None,
                  "article_id": a.article_id, "status": "loaded", "run_id": run_id, "seen_at": now}
                 for a in articles]
        state += [{"source": r.source, "locator": r.locator, "file_hash": r.file_hash, "size": r.size,
                   "article_id": None, "status": "rejected", "run_id": run_id, "seen_at": now}
                  for r in rejects if r.file_hash]
        _insert(con, "source_files", _table(state, SOURCE_FILE_SCHEMA), "INSERT OR REPLACE")
        _insert(con, "rejects", _table([{"run_id": run_id, "source": r.source, "locator": r.locator,
                                         "stage": r.stage, "error": r.error, "seen_at": now} for r in rejects],
                                       REJECT_SCHEMA))
    return counts


load_task = task(load_batch, name="load", cache_policy=NO_CACHE, timeout_seconds=900)
