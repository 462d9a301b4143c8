"""Load step: one cleaned batch into DuckDB, in one transaction, as bulk Arrow inserts.

A changed article replaces its row and its child rows; an article whose cleaned content did not change
is left alone (only its input state is updated). If anything fails the batch rolls back whole, so a crash
never leaves a half-loaded article.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from newsetl.models import Article, Batch, Reject


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
ARTICLE_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("source", pa.string()), ("source_type", pa.string()),
    ("locator", pa.string()), ("url", pa.string()), ("title", pa.string()), ("author", pa.string()),
    ("published_at", TS), ("categories", pa.list_(pa.string())), ("editor", pa.string()),
    ("origin", pa.string()), ("summary", pa.string()), ("body_text", pa.string()), ("body_html", pa.string()),
    ("char_count", pa.int32()), ("paragraph_count", pa.int32()), ("image_count", pa.int32()),
    ("content_hash", pa.string()), ("rules_version", pa.string()), ("first_seen_at", TS),
    ("updated_at", TS), ("run_id", pa.string()),
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


def _article_rows(articles: list[Article], first_seen: dict[str, datetime], run_id: str,
                  now: datetime) -> tuple[list[dict], list[dict], list[dict]]:
    rows, paragraphs, images = [], [], []
    for a in articles:
        rows.append({
            "article_id": a.article_id, "source": a.source, "source_type": a.source_type, "locator": a.locator,
            "url": a.url, "title": a.title, "author": a.author, "published_at": a.published_at,
            "categories": a.categories, "editor": a.editor, "origin": a.origin, "summary": a.summary,
            "body_text": a.body_text, "body_html": a.body_html, "char_count": a.char_count,
            "paragraph_count": a.paragraph_count, "image_count": a.image_count,
            "content_hash": a.content_hash, "rules_version": a.rules_version,
            "first_seen_at": first_seen.get(a.article_id, now), "updated_at": now, "run_id": run_id,
        })
        paragraphs.extend({"article_id": a.article_id, "position": i, "kind": kind, "text": text}
                          for i, (kind, text) in enumerate(a.paragraphs))
        images.extend({"article_id": a.article_id, "position": im.position, "role": im.role, "url": im.url,
                       "alt": im.alt, "caption": im.caption, "roles": im.roles} for im in a.images)
    return rows, paragraphs, images


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, verb: str = "INSERT") -> None:
    if data.num_rows:
        con.register("load_stage", data)
        try:
            con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM load_stage")
        finally:
            con.unregister("load_stage")


def load_batch(con: duckdb.DuckDBPyConnection, batch: Batch, run_id: str, force: bool = False) -> LoadCounts:
    """Upsert a Batch of Articles (and record its Rejects) in one transaction; `force` rewrites unchanged ones."""
    now = datetime.now(timezone.utc)
    articles: list[Article] = list({a.article_id: a for a in batch.items}.values())  # last one wins
    rejects: list[Reject] = batch.rejects
    counts = LoadCounts(rejected=len(rejects))
    con.execute("BEGIN TRANSACTION")
    try:
        existing = _existing_hashes(con, [a.article_id for a in articles])
        changed: list[Article] = []
        for article in articles:
            old = existing.get(article.article_id)
            if old is None:
                counts.new += 1
                changed.append(article)
            elif force or old[0] != article.content_hash:
                counts.updated += 1
                changed.append(article)
            else:
                counts.unchanged += 1
        rows, paragraphs, images = _article_rows(changed, {k: v[1] for k, v in existing.items()}, run_id, now)
        if changed:
            ids = pa.table({"article_id": pa.array([a.article_id for a in changed], pa.string())})
            con.register("changed_ids", ids)
            try:
                for child in ("paragraphs", "article_images"):
                    con.execute(f"DELETE FROM {child} WHERE article_id IN (SELECT article_id FROM changed_ids)")
            finally:
                con.unregister("changed_ids")
        _insert(con, "articles", _table(rows, ARTICLE_SCHEMA), "INSERT OR REPLACE")
        _insert(con, "paragraphs", _table(paragraphs, PARAGRAPH_SCHEMA))
        _insert(con, "article_images", _table(images, IMAGE_SCHEMA))
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
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


load_task = task(load_batch, name="load", cache_policy=NO_CACHE, timeout_seconds=900)
