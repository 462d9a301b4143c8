"""Views live in warehouse/views/ and are re-applied by migrate(): an old warehouse and a fresh one end up equal."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb

from newsetl.warehouse.db import connect_reader, connect_writer, migrations, views

OLD_MIGRATIONS = Path(__file__).parent / "fixtures" / "migrations_before_views"  # the files before issue 10
VIEW_NAMES = ["article_keywords", "article_tokens", "daily_articles", "editor_summary", "image_health",
              "keyword_trends", "origin_summary", "run_history", "source_summary", "stories"]
OLD_VIEW_NAMES = [name for name in VIEW_NAMES if name != "article_tokens"]  # a table before migration 016
# Views whose text changed since the move: two read the keyword tokens stored by number (migration 016), with the
# same columns (checked below); run_history has a column more (ADDED_COLUMNS).
REWRITTEN_VIEWS = {"article_keywords", "keyword_trends", "run_history"}
# Columns added to a view since the move, each after the old ones (positional readers keep working).
ADDED_COLUMNS = [("run_history", "skipped", "INTEGER")]


def _views(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' ORDER BY view_name"
    ).fetchall())


def _columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
        "ORDER BY table_name, ordinal_position").fetchall()


def _old_warehouse(path: Path) -> None:
    """A warehouse as today's code before the move created it: views made by migrations 002 and 004."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version "
                "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
    for file in sorted(OLD_MIGRATIONS.glob("*.sql")):
        version, name = file.stem.split("_", 1)
        con.execute(file.read_text(encoding="utf-8"))
        con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [int(version), name, datetime.now(timezone.utc)])
    con.close()


def test_one_create_or_replace_view_per_file_and_none_in_migrations():
    bundled = views()
    assert [name for name, _ in bundled] == VIEW_NAMES
    for name, sql in bundled:
        statements = [line for line in sql.splitlines() if line and not line.startswith("--")]
        assert statements[0] == f"CREATE OR REPLACE VIEW {name} AS"
        assert sql.count("CREATE ") == 1 and sql.rstrip().endswith(";")
    for _, name, sql in migrations():  # migrations keep tables only
        assert "CREATE VIEW" not in sql.upper() and "OR REPLACE VIEW" not in sql.upper(), name


def test_old_and_fresh_warehouses_end_with_identical_views_and_columns(tmp_path):
    old, fresh = tmp_path / "old.duckdb", tmp_path / "fresh.duckdb"
    _old_warehouse(old)
    with duckdb.connect(str(old)) as con:
        before_views = _views(con)
        before_columns = _columns(con)
    assert sorted(before_views) == OLD_VIEW_NAMES
    connect_writer(old).close()
    connect_writer(fresh).close()
    old_con, fresh_con = connect_reader(old), connect_reader(fresh)  # read-only, like `newsetl query`
    try:
        assert sorted(_views(fresh_con)) == VIEW_NAMES
        assert _views(old_con) == _views(fresh_con)
        assert _columns(old_con) == _columns(fresh_con)
        # the same columns as the old views, and the view article_tokens as the table it replaced
        view_columns = [row for row in before_columns if row[0] in VIEW_NAMES]
        fresh_view_columns = [row for row in _columns(fresh_con) if row[0] in VIEW_NAMES]
        assert [row for row in fresh_view_columns if row not in ADDED_COLUMNS] == view_columns
        for added in ADDED_COLUMNS:  # each comes after every old column of its view
            assert [row for row in fresh_view_columns if row[0] == added[0]][-1] == added
        assert [row for row in view_columns if row[0] == "article_tokens"] == [
            ("article_tokens", "article_id", "VARCHAR"), ("article_tokens", "term", "VARCHAR"),
            ("article_tokens", "tf", "INTEGER")]
        unchanged = {name: sql for name, sql in _views(fresh_con).items() if name in OLD_VIEW_NAMES
                     and name not in REWRITTEN_VIEWS}
        # the same view text the old migrations created
        assert unchanged == {name: sql for name, sql in before_views.items() if name not in REWRITTEN_VIEWS}
    finally:
        old_con.close()
        fresh_con.close()


def test_views_are_reapplied_on_every_writer_connect(tmp_path):
    path = tmp_path / "w.duckdb"
    connect_writer(path).close()
    with duckdb.connect(str(path)) as con:
        con.execute("DROP VIEW stories")
        con.execute("CREATE OR REPLACE VIEW keyword_trends AS SELECT 1 AS x")
    connect_writer(path).close()
    con = connect_reader(path)
    try:
        assert sorted(_views(con)) == VIEW_NAMES
        assert [c for t, c, _ in _columns(con) if t == "keyword_trends"] == ["day", "term", "articles", "occurrences"]
        assert con.execute("SELECT count(*) FROM stories").fetchone()[0] == 0
    finally:
        con.close()
