"""The writer opens the warehouse with row groups of `ROW_GROUP_SIZE` rows (warehouse/db.py): an in-memory database
with the file attached and made the default. Everything else behaves as with a plain `duckdb.connect`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from newsetl.errors import NewsetlError, WarehouseBusy
from newsetl.warehouse.db import (ROW_GROUP_SIZE, checkpoint, connect_reader, connect_writer, cursor,
                                  latest_version, limit_memory, transaction)

BATCH = 10_000
BATCHES = 5


def _add_rejects(con: duckdb.DuckDBPyConnection, first: int, count: int) -> None:
    with transaction(con):
        con.execute(
            "INSERT INTO rejects SELECT 'run-' || (i // 1000), 'posts', 'p/' || i || '.md', 'parse', "
            "'bad front matter ' || i, TIMESTAMPTZ '2024-03-01 12:00:00+00' FROM range(?, ?) AS t(i)",
            [first, first + count])


def _row_groups(con: duckdb.DuckDBPyConnection, table: str) -> list[int]:
    """Rows per row group of `table`, in row-group order."""
    return [row[0] for row in con.execute(
        "SELECT max(count) FROM pragma_storage_info(?) WHERE column_id = 0 GROUP BY row_group_id "
        "ORDER BY row_group_id", [table]).fetchall()]


def test_row_groups_stay_small_across_checkpoints(tmp_path: Path) -> None:
    """Batches committed and checkpointed one by one, as the load's autocheckpoints do: no row group grows past
    ROW_GROUP_SIZE (DuckDB's default would keep these 50,000 rows in one 122,880-row group)."""
    path = tmp_path / "newsetl.duckdb"
    con = connect_writer(path)
    for n in range(BATCHES):
        _add_rejects(con, n * BATCH, BATCH)
        checkpoint(con)
    during = _row_groups(con, "rejects")
    con.close()

    assert ROW_GROUP_SIZE == 32768
    assert sum(during) == BATCH * BATCHES
    assert max(during) <= ROW_GROUP_SIZE
    assert len(during) >= -(-BATCH * BATCHES // ROW_GROUP_SIZE)  # at least 2 groups
    # The size is not stored in the file: a plain connection reads the same rows, in the same groups.
    with duckdb.connect(str(path), read_only=True) as plain:
        assert _row_groups(plain, "rejects") == during
        assert plain.execute("SELECT count(*), count(DISTINCT locator), max(error) FROM rejects").fetchone() == (
            50_000, 50_000, "bad front matter 9999")


def test_writer_works_in_the_warehouse_catalog(tmp_path: Path) -> None:
    """Migrations, views and the BM25 macro land in the file (not the in-memory catalog), under the name a plain
    connection gives it; a cursor sees the warehouse; spills go next to the file."""
    path = tmp_path / "news.duckdb"
    con = connect_writer(path)
    assert con.execute("SELECT current_database()").fetchone()[0] == "news"
    assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == f"{path}.tmp"
    in_memory = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'memory'").fetchone()[0]
    assert in_memory == 0
    _add_rejects(con, 0, 3)
    second = cursor(con)
    try:
        assert second.execute("SELECT current_database()").fetchone()[0] == "news"
        assert second.execute("SELECT count(*) FROM rejects").fetchone()[0] == 3
        assert second.execute("SELECT count(*) FROM daily_articles").fetchone()[0] == 0  # a view
    finally:
        second.close()
    limit_memory(con, "300MB")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] in ("286.1 MiB", "300.0 MB")
    con.close()

    reader = connect_reader(path)
    try:
        assert reader.execute("SELECT max(version) FROM schema_version").fetchone()[0] == latest_version()
        assert reader.execute("SELECT locator FROM rejects ORDER BY locator").fetchall() == [
            ("p/0.md",), ("p/1.md",), ("p/2.md",)]
        assert reader.execute(
            "SELECT count(fts_main_search_documents.match_bm25(article_id, '北京')) FROM search_documents"
        ).fetchone()[0] == 0  # the macro is in the file
    finally:
        reader.close()


def test_reserved_file_names_get_the_plain_connection_name(tmp_path: Path) -> None:
    """DuckDB names main.duckdb `main_db`; memory.duckdb would clash with the in-memory catalog."""
    for stem, catalog in (("main", "main_db"), ("memory", "memory_db"), ("it's", "it's")):
        con = connect_writer(tmp_path / f"{stem}.duckdb")
        try:
            assert con.execute("SELECT current_database()").fetchone()[0] == catalog
            assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] > 0
        finally:
            con.close()


def test_write_ahead_log_is_folded_by_checkpoint_and_close(tmp_path: Path) -> None:
    path = tmp_path / "newsetl.duckdb"
    wal = Path(f"{path}.wal")
    con = connect_writer(path)
    checkpoint(con)
    _add_rejects(con, 0, 100)
    assert wal.exists() and wal.stat().st_size > 0
    checkpoint(con)
    assert not wal.exists()
    _add_rejects(con, 100, 100)
    assert wal.exists()
    con.close()
    assert not wal.exists()
    with duckdb.connect(str(path), read_only=True) as plain:
        assert plain.execute("SELECT count(*) FROM rejects").fetchone()[0] == 200


HOLD_WRITER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(30)
"""


def test_busy_and_corrupt_warehouses_give_the_same_errors(tmp_path: Path) -> None:
    path = tmp_path / "newsetl.duckdb"
    busy = f"warehouse {re.escape(str(path))} is busy: another newsetl process is writing it; try again"
    connect_writer(path).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseBusy, match=busy):
            connect_writer(path)
    finally:
        holder.kill()
        holder.wait()
    writer = connect_writer(path)
    try:
        with pytest.raises(WarehouseBusy, match=f"warehouse {re.escape(str(path))} is busy: this process already "
                           "has it open for writing; try again when it closes"):  # a second writer in this process
            connect_writer(path)
    finally:
        writer.close()
    connect_writer(path).close()  # closed: free again

    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(NewsetlError, match=re.escape(
            f'cannot open warehouse {bad}: IO Error: The file "{bad}" exists, but it is not a valid DuckDB '
            "database file!")):
        connect_writer(bad)
