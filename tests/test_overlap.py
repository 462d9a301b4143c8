"""Overlapping runs on one warehouse: serialized by the lock (or skipped), never two writers at once."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from schedule_helpers import PYTHON, ROOT, config_dict, copy_posts, newsetl, rows, write_config

from newsetl.flows.deployments import scheduled_ingest

HOLD_LOCK = """
import sys, time
from pathlib import Path
from newsetl.runtime.lock import warehouse_lock
with warehouse_lock(Path(sys.argv[1]), holder="test holder"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""
HOLD_WRITER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS t (x INT)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(script: str, path: Path, seconds: float) -> subprocess.Popen:
    child = subprocess.Popen([PYTHON, "-c", script, str(path), str(seconds)], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "locked"
    return child


def test_two_cli_ingests_at_once_are_serialized(tmp_path: Path) -> None:
    posts = copy_posts(tmp_path)
    config = write_config(tmp_path, config_dict(tmp_path, posts))
    cmd = [PYTHON, "-m", "newsetl.cli", "ingest", "--config", str(config)]
    children = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    results = [child.communicate(timeout=600) + (child.returncode,) for child in children]

    assert [code for _, _, code in results] == [0, 0], results
    runs = rows(tmp_path / "wh.duckdb", "SELECT started_at, finished_at, status, new, unchanged "
                                        "FROM ingest_runs ORDER BY started_at")
    assert [(status, new, unchanged) for _, _, status, new, unchanged in runs] == [
        ("completed", 15, 0), ("completed", 0, 15)]
    assert runs[0][1] <= runs[1][0]  # the second run started writing only after the first finished


def test_scheduled_run_is_skipped_while_another_run_writes(tmp_path: Path) -> None:
    data = config_dict(tmp_path, copy_posts(tmp_path),
                       deployments=[{"name": "skipper", "interval": 60},
                                    {"name": "waiter", "interval": 60, "on_overlap": "wait", "wait_seconds": 60}])
    config = write_config(tmp_path, data)
    warehouse = tmp_path / "wh.duckdb"
    holder = _hold(HOLD_LOCK, warehouse, 4)
    try:
        state = scheduled_ingest(str(config), "skipper", return_state=True)
        assert (state.type.value, state.name) == ("CANCELLED", "Skipped")
        assert "is busy: another newsetl run is writing it (held by pid" in state.message
        assert not warehouse.exists()  # the skipped run never opened the warehouse

        started = time.monotonic()
        state = scheduled_ingest(str(config), "waiter", return_state=True)  # waits for the holder to finish
        assert time.monotonic() - started > 1
        assert (state.type.value, state.name) == ("COMPLETED", "Completed")
        assert "15 new" in state.message
    finally:
        holder.wait(timeout=30)
    assert rows(warehouse, "SELECT status, new FROM ingest_runs") == [("completed", 15)]


def test_query_while_a_writer_holds_the_warehouse_says_busy(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    holder = _hold(HOLD_WRITER, warehouse, 60)
    try:
        result = newsetl("query", "--warehouse", str(warehouse), "SELECT 1")
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert result.stderr == (f"newsetl: error: warehouse {warehouse} is busy: another newsetl process is "
                             "writing it; try again when it finishes\n")
