"""`newsetl query` is truly read-only: DuckDB's own switches refuse every statement that would write a file,
attach a database, install or load an extension or change a setting; any SQL that reads the warehouse works."""

from __future__ import annotations

import shutil
import socket
from importlib import resources
from pathlib import Path

import duckdb
import pytest

from newsetl.cli import main
from newsetl.warehouse.db import connect_reader
from reporting_warehouse import reporting_warehouse  # noqa: F401

PREFIX = "newsetl: error: query failed: refused, `newsetl query` only reads the warehouse ("


def _fts_file() -> Path:
    return Path(str(resources.files("duckdb_extension_fts").joinpath(
        "extensions", f"v{duckdb.__version__}", "fts.duckdb_extension")))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _query(warehouse: Path, sql: str, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["query", sql, "--warehouse", str(warehouse), "--format", "csv", *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def warehouse(reporting_warehouse) -> Path:  # noqa: F811
    return reporting_warehouse["path"]


@pytest.fixture
def other(tmp_path: Path) -> Path:
    """Another DuckDB warehouse with 3 rows: ATTACH must not let a query write into it."""
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(3)")
    con.close()
    return path


def test_statements_that_write_or_reach_out_are_refused(warehouse: Path, other: Path, tmp_path: Path, capsys):
    out_file, export_dir, profile = tmp_path / "articles.csv", tmp_path / "export", tmp_path / "profile.json"
    evil = tmp_path / "evil.duckdb_extension"
    shutil.copyfile(_fts_file(), evil)
    refused = {
        f"COPY articles TO '{out_file}'": "file system operations are disabled by configuration",
        f"COPY (SELECT title FROM articles) TO '{out_file}' (FORMAT parquet)": "disabled by configuration",
        f"EXPORT DATABASE '{export_dir}'": "disabled by configuration",
        f"ATTACH '{other}' AS o": "disabled by configuration",
        f"ATTACH '{other}' AS o; DELETE FROM o.t": "disabled by configuration",
        f"INSTALL '{_fts_file()}'": "disabled by configuration",
        f"FORCE INSTALL httpfs FROM 'http://127.0.0.1:{_closed_port()}'": "disabled by configuration",
        f"LOAD '{evil}'": "disabled through configuration",  # a copy of fts under another name
        "LOAD httpfs": "disabled through configuration",
        "SET threads = 1": "the configuration has been locked",
        "SET lock_configuration = false": "the configuration has been locked",
        "SET enable_external_access = true": "the configuration has been locked",
        "RESET enable_external_access": "the configuration has been locked",
        f"PRAGMA profiling_output = '{profile}'": "the configuration has been locked",
        "SELECT count(*) FROM read_csv('/etc/hostname')": "disabled by configuration",
        "DELETE FROM articles": "read-only mode",
        "CREATE TABLE notes AS SELECT 1 AS x": "read-only mode",
    }
    for sql, reason in refused.items():
        code, out, err = _query(warehouse, sql, capsys)
        assert (code, out) == (2, ""), sql
        assert err.startswith(PREFIX) and err.count("\n") == 1 and reason in err, (sql, err)
        assert "Traceback" not in err
    for path in (out_file, export_dir, profile):
        assert not path.exists()
    con = duckdb.connect(str(other), read_only=True)
    assert con.execute("SELECT count(*) FROM t").fetchone() == (3,)  # the attached warehouse kept its rows
    con.close()


def _plain(warehouse: Path, sql: str) -> str:
    """What an ordinary read-only connection returns for `sql`, as the command's CSV."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(sql)
        header = ",".join(d[0] for d in cursor.description)
        return header + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in cursor.fetchall())
    finally:
        con.close()


def test_reads_of_the_warehouse_still_work(warehouse: Path, capsys):
    reads = [f"SELECT count(*) AS n FROM {view}" for view in (
        "articles", "paragraphs", "rejects", "daily_articles", "source_summary", "editor_summary", "origin_summary",
        "image_health", "run_history", "stories", "article_keywords", "keyword_trends")]
    reads += [
        "SELECT source, articles FROM source_summary ORDER BY source",
        "SELECT a.source, count(*) AS paragraphs FROM articles a JOIN paragraphs p USING (article_id) "
        "GROUP BY ALL ORDER BY 1",
        # UTC days (icu), a CTE and a window function
        "WITH d AS (SELECT CAST(timezone('UTC', published_at) AS DATE) AS day FROM articles) "
        "SELECT day, count(*) OVER () AS days FROM d GROUP BY ALL ORDER BY day LIMIT 3",
    ]
    for sql in reads:
        code, out, err = _query(warehouse, sql, capsys)
        assert (code, err) == (0, ""), sql
        assert out == _plain(warehouse, sql) and out.count("\n") >= 2, sql
    assert _query(warehouse, "SELECT count(*) AS n FROM articles", capsys)[1] != "n\n0\n"
    # several statements (the last one's rows) and a temp table, which lives in memory only
    code, out, _ = _query(warehouse, "CREATE TEMP TABLE t AS SELECT 2 AS x; SELECT x * 21 AS y FROM t", capsys)
    assert (code, out) == (0, "y\n42\n")
    # BM25 search: the match_bm25 macro is stored in the warehouse, no extension needed
    code, out, err = _query(warehouse, "SELECT a.title FROM (SELECT article_id, fts_main_search_documents."
                                       "match_bm25(article_id, '粤海 铁路') AS score FROM search_documents) s "
                                       "JOIN articles a USING (article_id) WHERE score IS NOT NULL", capsys)
    assert (code, out) == (0, "title\n12306 App 上新：已支持买船票，轻松跨越琼州海峡\n"), err
    code, out, _ = _query(warehouse, "SELECT current_setting('enable_external_access') AS ext", capsys)
    assert (code, out) == (0, "ext\nFalse\n")


def test_query_result_can_still_be_written_with_out(warehouse: Path, tmp_path: Path, capsys):
    """--out is written by newsetl itself, not by DuckDB, so it keeps working."""
    target = tmp_path / "sources.csv"
    sql = "SELECT source, articles FROM source_summary ORDER BY source"
    code, _, err = _query(warehouse, sql, capsys, "--out", str(target))
    assert code == 0 and err == f"wrote 2 rows to {target} (csv)\n"
    assert target.read_text(encoding="utf-8") == _plain(warehouse, sql)
    elsewhere = tmp_path / "copied.csv"  # the user's SQL itself is refused the same way with --out
    code, _, err = _query(warehouse, f"COPY articles TO '{elsewhere}'", capsys, "--out", str(target))
    assert code == 2 and err.startswith(PREFIX) and not elsewhere.exists()


def test_other_readers_are_not_sandboxed(warehouse: Path, tmp_path: Path, capsys):
    """The sandbox is per connection: `export` and the report, run after a query, still write their files."""
    assert _query(warehouse, "SELECT 1 AS x", capsys)[0] == 0
    con = connect_reader(warehouse)
    try:
        con.execute(f"COPY (SELECT 1 AS x) TO '{tmp_path / 'x.csv'}'")
    finally:
        con.close()
    assert (tmp_path / "x.csv").read_text() == "x\n1\n"
    con = connect_reader(warehouse, sandbox=True)
    try:
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"COPY (SELECT 1 AS x) TO '{tmp_path / 'y.csv'}'")
    finally:
        con.close()
    assert not (tmp_path / "y.csv").exists()
