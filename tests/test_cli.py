"""The `newsetl` command line: real process for ingest, exact query output, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsetl.flows.ingest import ingest
from newsetl.cli import main
from tests.conftest import POSTS
from tests.helpers import make_config

NEWSETL = str(Path(sys.executable).with_name("newsetl"))


@pytest.fixture
def loaded(tmp_path: Path, warehouse_path: Path) -> Path:
    ingest(make_config(tmp_path, warehouse_path, [{"type": "hexo_dir", "name": "archive", "path": str(POSTS)}]))
    return warehouse_path


def test_ingest_command_in_a_real_process_prints_a_clean_summary(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    result = subprocess.run([NEWSETL, "ingest", str(POSTS), "--no-images", "--warehouse", "wh.duckdb"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    first = result.stdout.splitlines()[0]
    assert first.startswith("ingest completed (run ")
    assert first.endswith("15 discovered, 15 new, 0 updated, 0 unchanged, 0 rejected")
    for noise in ("Traceback", "ERROR", "WARNING"):
        assert noise not in output
    assert "Prefect flow run:" not in output  # newsetl's own private API stops with the command: no link
    again = subprocess.run([NEWSETL, "query", "SELECT count(*) AS n FROM articles", "--format", "csv",
                            "--warehouse", "wh.duckdb"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert (again.returncode, again.stdout) == (0, "n\n15\n")
    runs = subprocess.run([NEWSETL, "runs", "--format", "json", "--warehouse", "wh.duckdb"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    (run,) = json.loads(runs.stdout)  # one duration figure: the summary's run seconds are the `runs` seconds
    assert first.startswith(f"ingest completed (run {run['run_id']}, {run['seconds']:.1f} s; ")


def test_query_formats(loaded: Path, capsys):
    sql = ("SELECT title, strftime(published_at, '%Y-%m-%dT%H:%M:%SZ') AS utc, editor FROM articles "
           "WHERE editor IN ('王翔', '毕陆名') ORDER BY published_at")
    assert main(["query", sql, "--format", "csv", "--warehouse", str(loaded)]) == 0
    assert capsys.readouterr().out == (
        "title,utc,editor\n"
        "10秒06！苏炳添轻松晋级，决赛明晚举行,2021-09-20T20:33:14Z,毕陆名\n"
        "工信部：已评选国家新型工业化产业示范基地445家,2022-07-18T06:30:35Z,王翔\n")
    assert main(["query", sql, "--format", "json", "--warehouse", str(loaded)]) == 0
    assert json.loads(capsys.readouterr().out)[1] == {
        "title": "工信部：已评选国家新型工业化产业示范基地445家", "utc": "2022-07-18T06:30:35Z", "editor": "王翔"}
    assert main(["runs", "--format", "csv", "--warehouse", str(loaded)]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header == "run_id,status,started_at,seconds,discovered,new,updated,unchanged,rejected,skipped"
    assert row.split(",")[1] == "completed" and row.endswith(",15,15,0,0,0,0")


def test_query_is_read_only(loaded: Path, capsys):
    assert main(["query", "DELETE FROM articles", "--warehouse", str(loaded)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsetl: error: query failed: ") and err.count("\n") == 1
    assert main(["query", "SELECT count(*) FROM articles", "--format", "csv", "--warehouse", str(loaded)]) == 0
    assert capsys.readouterr().out == "count_star()\n15\n"


@pytest.mark.parametrize("yaml_text, message", [
    ("sources:\n  - type: hexo_dir\n    name: a\n    path: x\n    glob: ['*.md']\n",
     "sources.0.glob: unknown key"),
    ("timezone: Mars/Olympus\n", "timezone: unknown time zone 'Mars/Olympus'"),
    ("batch_size: 0\n", "batch_size: Input should be greater than or equal to 1"),
    ("sources:\n  - {type: ftp, name: a}\n", "sources.0: Input tag 'ftp' found using 'type' does not match"),
    ("sources: [unclosed\n", "not valid YAML"),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, capsys, yaml_text: str, message: str):
    config = tmp_path / "newsetl.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    assert main(["ingest", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("newsetl: error: ")
    assert message in err


def test_usage_errors(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no newsetl.yaml here
    assert main(["ingest"]) == 2
    assert "nothing to ingest" in capsys.readouterr().err
    assert main(["query", "SELECT 1", "--warehouse", str(tmp_path / "none.duckdb")]) == 1
    assert "no warehouse at" in capsys.readouterr().err
    assert main(["query"]) == 2  # argparse's usage errors are exit code 2 too (returned, not raised)


def test_a_reader_that_stops_early_ends_the_query_quietly(loaded: Path):
    # `newsetl query ... | head`: the pipe closes while rows are still being written (a real process and pipe)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    proc = subprocess.Popen([NEWSETL, "query", "SELECT range AS n, repeat('x', 100) AS pad FROM range(300000)",
                             "--format", "csv", "--warehouse", str(loaded)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(64).startswith(b"n,pad\n0,")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == "", err  # no traceback, no message
