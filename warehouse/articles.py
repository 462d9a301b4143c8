"""Articles and their child rows: the load step's bulk Arrow upsert, and the backfill selection.

`load_batch` writes one cleaned batch in one transaction: `articles`, `paragraphs`, `article_images`, the
`source_files` input state and the batch's `rejects`. A changed article replaces its row and its child rows;
an article whose cleaned content did not change is left alone (only its input state is updated). If anything
fails the batch rolls back whole, so a crash never leaves a half-loaded article. The Arrow schemas of these
tables are in warehouse/schemas.py (the workers build the article tables with them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from newsetl.models import Batch, Reject
from newsetl.warehouse.db import staged, transaction
from newsetl.warehouse.schemas import REJECT_SCHEMA, SOURCE_FILE_SCHEMA, TS

# (source, locator) -> (size, mtime_ns, inode, hash_salt) of the file when it was hashed, or None
StatOf = Callable[[str, str], "tuple[int, int, int, str] | None"]


@dataclass(slots=True)
class LoadCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0  # drafts and `published: false` posts of the batch (Batch.skipped)

    def add(self, other: "LoadCounts") -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.skipped += other.skipped


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def _existing_hashes(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, tuple[str, datetime]]:
    if not ids:
        return {}
    with staged(con, "load_ids", pa.table({"article_id": pa.array(ids, pa.string())})):
        rows = con.execute(
            "SELECT a.article_id, a.content_hash, a.first_seen_at FROM articles a "
            "JOIN load_ids USING (article_id)"
        ).fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def _only(table: pa.Table, ids: pa.Array) -> pa.Table:
    return table.filter(pc.is_in(table["article_id"], value_set=ids))


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, verb: str = "INSERT") -> None:
    if data.num_rows:
        with staged(con, "load_stage", data):
            con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM load_stage")


def _stat_columns(stats: StatOf | None, source: str, locator: str) -> dict:
    """The stat columns of a `source_files` row (migration 009); all NULL when the stat is unknown."""
    stat = stats(source, locator) if stats is not None else None
    if stat is None:
        return {"mtime_ns": None, "inode": None, "hash_salt": None}
    size, mtime_ns, inode, salt = stat
    return {"size": size, "mtime_ns": mtime_ns, "inode": inode, "hash_salt": salt}


def load_batch(con: duckdb.DuckDBPyConnection, batch: Batch, run_id: str, force: bool = False,
               stats: StatOf | None = None) -> LoadCounts:
    """Upsert a cleaned Batch and record its Rejects, in one transaction.

    A cleaned batch (newsetl/posts/tables.py `cleaned_batch`) holds `ArticleKey`s as items and its
    `ArticleTables` (articles, paragraphs, images) as `tables`.
    `force` rewrites articles whose content did not change (backfill and reprocessing). `stats(source,
    locator)` gives the stat each input file had when it was hashed (newsetl.posts.discover.ChangedFiles.stat_of).
    """
    now = datetime.now(timezone.utc)
    articles = batch.items  # ArticleKey: article_id, content_hash, source, locator, file_hash
    rejects: list[Reject] = batch.rejects
    counts = LoadCounts(rejected=len(rejects), skipped=batch.skipped)
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
            tables = batch.tables
            ids = pa.array(changed, pa.string())
            rows = _only(tables.articles, ids)
            first_seen = [existing[i][1] if i in existing else now for i in rows["article_id"].to_pylist()]
            rows = rows.append_column(pa.field("first_seen_at", TS), pa.array(first_seen, TS)) \
                .append_column(pa.field("updated_at", TS), pa.array([now] * rows.num_rows, TS)) \
                .append_column("run_id", pa.array([run_id] * rows.num_rows, pa.string()))
            with staged(con, "changed_ids", pa.table({"article_id": ids})):
                for child in ("paragraphs", "article_images"):
                    con.execute(f"DELETE FROM {child} WHERE article_id IN (SELECT article_id FROM changed_ids)")
            # only new rows (a first run): a plain INSERT, ~3x faster than DuckDB's upsert path, same rows
            _insert(con, "articles", rows, "INSERT OR REPLACE" if counts.updated else "INSERT")
            _insert(con, "paragraphs", _only(tables.paragraphs, ids))
            _insert(con, "article_images", _only(tables.images, ids))
        state = [{"source": a.source, "locator": a.locator, "file_hash": a.file_hash, "size": None,
                  "article_id": a.article_id, "status": "loaded", "run_id": run_id, "seen_at": now,
                  **_stat_columns(stats, a.source, a.locator)}
                 for a in articles]
        state += [{"source": r.source, "locator": r.locator, "file_hash": r.file_hash, "size": r.size,
                   "article_id": None, "status": "rejected", "run_id": run_id, "seen_at": now,
                   **_stat_columns(stats, r.source, r.locator)}
                  for r in rejects if r.file_hash]
        _insert(con, "source_files", _table(state, SOURCE_FILE_SCHEMA), "INSERT OR REPLACE")
        _insert(con, "rejects", _table([{"run_id": run_id, "source": r.source, "locator": r.locator,
                                         "stage": r.stage, "error": r.error, "seen_at": now} for r in rejects],
                                       REJECT_SCHEMA))
    return counts


def select_for_backfill(con: duckdb.DuckDBPyConnection, *, published_from: datetime | None = None,
                        published_before: datetime | None = None, source: str | None = None,
                        rules_other_than: str | None = None) -> list[tuple[str, str, str]]:
    """(source, source_type, locator) of the articles matching every given filter, ordered by source, locator.

    `published_from` is inclusive, `published_before` exclusive; `rules_other_than` selects the rows whose
    `rules_version` differs from it (NULL included).
    """
    where, params = [], []
    if published_from is not None:
        where.append("published_at >= ?")
        params.append(published_from)
    if published_before is not None:
        where.append("published_at < ?")
        params.append(published_before)
    if source:
        where.append("source = ?")
        params.append(source)
    if rules_other_than is not None:
        where.append("rules_version IS DISTINCT FROM ?")
        params.append(rules_other_than)
    sql = "SELECT source, source_type, locator FROM articles"
    sql += (" WHERE " + " AND ".join(where)) if where else ""
    return con.execute(sql + " ORDER BY source, locator", params).fetchall()
