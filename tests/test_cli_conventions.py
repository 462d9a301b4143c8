"""CLI conventions (issue 12): exit codes per outcome and the flow-run state that says the same, --version,
`init`, NEWSETL_* environment overrides, --log-format json, `query --out` through DuckDB's COPY, one duration
grammar, unknown --source, --help on every option, the file lock.

Everything runs through `newsetl.cli.main` in this process, on the session's Prefect API.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
import yaml
from prefect.client.orchestration import get_client

from helpers import rows
from newsetl.cli import main
from newsetl.cli.main import build_parser
from newsetl.config import Config, load_config
from newsetl.durations import parse_duration, parse_moment
from newsetl.errors import ConfigError, WarehouseBusy
from newsetl.runtime.lock import warehouse_lock

POSTS = Path(__file__).resolve().parent / "fixtures" / "posts"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    """A folder with newsetl.yaml (one configured source, images off) and its loaded warehouse."""
    folder = tmp_path_factory.mktemp("conventions")
    shutil.copytree(POSTS, folder / "posts")
    (folder / "newsetl.yaml").write_text(yaml.safe_dump(
        {"warehouse": "wh.duckdb", "images": {"enabled": False},
         "sources": [{"type": "hexo_dir", "name": "archive", "path": "posts"}]}), encoding="utf-8")
    assert main(["ingest", "--config", str(folder / "newsetl.yaml")]) == 0  # completed: exit 0
    return folder


def _flow_run_state(flow_run_id: str) -> tuple[str, str, str]:
    async def read():
        async with get_client() as client:
            return (await client.read_flow_run(flow_run_id)).state

    state = asyncio.run(read())
    return state.type.value, state.name, state.message or ""


# ------------------------------------------------------------------------------------------ exit codes
def test_exit_codes_and_flow_states_per_outcome(loaded: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    config = str(loaded / "newsetl.yaml")
    # completed (the fixture's run): exit 0, plain Completed
    run_id, flow_run_id, status = rows(loaded / "wh.duckdb", "SELECT run_id, flow_run_id, status FROM ingest_runs "
                                                             "ORDER BY started_at LIMIT 1")[0]
    assert status == "completed"
    assert _flow_run_state(flow_run_id)[:2] == ("COMPLETED", "Completed")
    capsys.readouterr()

    # partial: a PATH that does not exist is a source that yields nothing -> exit 3, Completed named "Partial"
    warehouse = tmp_path / "partial.duckdb"
    assert main(["ingest", str(tmp_path / "typo"), "--config", config, "--warehouse", str(warehouse)]) == 3
    out = capsys.readouterr().out
    assert out.startswith("ingest partial (run ")
    assert f"problem: typo: discover: folder not found: {tmp_path / 'typo'}" in out
    flow_run_id = rows(warehouse, "SELECT flow_run_id FROM ingest_runs")[0][0]
    kind, name, message = _flow_run_state(flow_run_id)
    assert (kind, name) == ("COMPLETED", "Partial")
    assert "partial: typo: discover: folder not found" in message

    # failed: the warehouse is not a DuckDB file -> exit 1, one line, no traceback
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"this is not a database" * 100)
    assert main(["ingest", "--config", config, "--warehouse", str(broken)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"newsetl: error: cannot open warehouse {broken}: ") and err.count("\n") == 1
    assert "Traceback" not in err  # Prefect's log of the failed run goes to its API, not to the terminal

    # failed: the warehouse is busy (lock held, and NEWSETL_LOCK_WAIT=0 says not to wait) -> exit 1
    with monkeypatch.context() as env, warehouse_lock(loaded / "wh.duckdb", holder="test"):
        env.setenv("NEWSETL_LOCK_WAIT", "0")
        assert main(["ingest", "--config", config]) == 1
    assert "is busy: another newsetl run is writing it (held by pid" in capsys.readouterr().err

    # failed: DuckDB's memory limit (a setting the user chose) -> exit 1, one line saying what to change
    tight = tmp_path / "tight.yaml"
    tight.write_text(yaml.safe_dump({**yaml.safe_load((loaded / "newsetl.yaml").read_text(encoding="utf-8")),
                                     "warehouse": str(tmp_path / "tight.duckdb"), "memory_limit": "1MB",
                                     "sources": [{"type": "hexo_dir", "name": "archive",
                                                  "path": str(loaded / "posts")}]}), encoding="utf-8")
    assert main(["ingest", "--config", str(tight)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("newsetl: error: the warehouse ran out of memory (Out of Memory Error: ") and \
        err.endswith("); the run is recorded as failed: raise `memory_limit` in the config (default 256MB; null "
                     "lifts the cap)\n") and err.count("\n") == 1
    assert rows(tmp_path / "tight.duckdb", "SELECT status, message LIKE 'OutOfMemoryException: %' FROM ingest_runs") \
        == [("failed", True)]

    # usage and config: exit 2
    assert main(["ingest", "--no-such-flag"]) == 2
    assert main(["backfill", "--config", config]) == 2  # --since is required
    bad = tmp_path / "bad.yaml"
    bad.write_text("timezone: Mars/Olympus\n", encoding="utf-8")
    assert main(["runs", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "newsetl: error: the following arguments are required: --since" in err
    assert f"newsetl: error: {bad}: timezone: unknown time zone 'Mars/Olympus'" in err


@pytest.fixture
def prefect_handlers():
    """Put Prefect's terminal handlers back after a test that switched them to JSON lines."""
    import logging

    names = [""] + [name for name in logging.root.manager.loggerDict if name.startswith("prefect")]
    saved = {name: list(logging.getLogger(name).handlers) for name in names}
    yield
    for name, handlers in saved.items():
        logging.getLogger(name).handlers[:] = handlers


def test_log_format_json_is_one_object_per_line(loaded: Path, tmp_path: Path, capsys, prefect_handlers) -> None:
    code = main(["ingest", str(tmp_path / "missing"), "--config", str(loaded / "newsetl.yaml"),
                 "--warehouse", str(tmp_path / "j.duckdb"), "--log-format", "json"])
    captured = capsys.readouterr()
    assert code == 3
    assert captured.out == ""  # machines read stderr; stdout is for query results only
    records = [json.loads(line) for line in captured.err.splitlines()]  # every line is one JSON object
    summary = [r for r in records if r.get("event") == "summary"]
    assert len(summary) == 1
    assert (summary[0]["command"], summary[0]["status"], summary[0]["exit_code"], summary[0]["level"]) == (
        "ingest", "partial", 3, "warning")
    assert (summary[0]["summary"]["new"], summary[0]["summary"]["rejected"]) == (0, 1)
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)

    assert main(["query", "--log-format", "json"]) == 2  # a usage error, as JSON too
    error = json.loads(capsys.readouterr().err)
    assert (error["level"], error["exit_code"]) == ("error", 2)
    assert error["message"].startswith("the following arguments are required: SQL")


# ------------------------------------------------------------------------------------ version, init, help
def test_version_and_help_on_every_option(capsys) -> None:
    assert main(["--version"]) == 0
    assert re.fullmatch(r"newsetl \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 (argparse keeps them here)
    missing = [f"{name} {'/'.join(action.option_strings) or action.dest}"
               for name, sub in commands.items() for action in sub._actions
               if not action.help and action.dest != "help"]
    assert missing == []
    assert {"ingest", "query", "runs", "images", "search", "export", "report", "serve", "backfill",
            "reprocess", "init"} <= set(commands)
    assert main(["--help"]) == 0
    assert "exit codes: 0 completed, 3 completed with problems (partial), 1 failed, 2" in capsys.readouterr().out


def test_init_writes_a_commented_starter_that_validates(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "site"
    assert main(["init", str(folder)]) == 0
    text = (folder / "newsetl.yaml").read_text(encoding="utf-8")
    assert text.startswith("# newsetl.yaml, written by `newsetl init`.")
    assert (folder / "posts").is_dir()
    config = load_config(folder / "newsetl.yaml")
    defaults = Config()
    assert (config.warehouse, config.timezone, config.batch_size, config.lock_wait) == (
        defaults.warehouse, defaults.timezone, defaults.batch_size, defaults.lock_wait)
    assert config.images == defaults.images and config.reporting == defaults.reporting
    assert [(s.name, config.resolve(s.path)) for s in config.sources] == [("posts", folder / "posts")]

    # Every commented-out example is valid too.
    uncommented = re.sub(r"^#(?=  |deployments)", "", text, flags=re.M)
    assert uncommented != text
    (folder / "full.yaml").write_text(uncommented, encoding="utf-8")
    full = load_config(folder / "full.yaml")
    assert [s.type for s in full.sources] == ["hexo_dir", "feed", "post_urls"]
    assert [d.name for d in full.deployments] == ["nightly"]

    assert main(["init", str(folder)]) == 2  # never overwrites without --force
    assert "exists; pass --force to overwrite it" in capsys.readouterr().err
    assert main(["init", str(folder), "--force"]) == 0


# -------------------------------------------------------------------------------------------- environment
def test_environment_overrides_file_and_flags_override_environment(loaded: Path, tmp_path: Path, monkeypatch,
                                                                   capsys) -> None:
    path = loaded / "newsetl.yaml"
    env = {"NEWSETL_TIMEZONE": "Asia/Shanghai", "NEWSETL_IMAGES__ENABLED": "true", "NEWSETL_IMAGES__PER_HOST": "3",
           "NEWSETL_ENCODINGS": '["utf-8", "gb18030"]', "NEWSETL_HOME": "/ignored"}
    config = load_config(path, environ=env)
    assert (config.timezone, config.images.enabled, config.images.per_host, config.encodings) == (
        "Asia/Shanghai", True, 3, ["utf-8", "gb18030"])
    assert config.images.store == Path("data/images")  # the file's other images keys are kept
    assert config.sources[0].name == "archive" and config.warehouse == Path("wh.duckdb")
    assert load_config(path, environ={}).timezone == "UTC"

    with pytest.raises(ConfigError, match="unknown setting NEWSETL_TIMEZON "):
        load_config(path, environ={"NEWSETL_TIMEZON": "UTC"})
    with pytest.raises(ConfigError, match=r"images\.per_host: Input should be a valid integer"):
        load_config(path, environ={"NEWSETL_IMAGES__PER_HOST": "many"})

    # Through the CLI: NEWSETL_WAREHOUSE (relative: to the working folder) beats the file; --warehouse beats both.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSETL_WAREHOUSE", "elsewhere.duckdb")
    assert main(["runs", "--config", str(path)]) == 1
    assert f"no warehouse at {tmp_path / 'elsewhere.duckdb'}" in capsys.readouterr().err
    assert main(["query", "SELECT count(*) FROM articles", "--format", "csv", "--config", str(path),
                 "--warehouse", str(loaded / "wh.duckdb")]) == 0
    assert capsys.readouterr().out == "count_star()\n15\n"
    monkeypatch.setenv("NEWSETL_RUNNER__KIND", "fibers")
    assert main(["runs", "--config", str(path)]) == 2
    assert "runner.kind: Input should be 'threads', 'processes' or 'dask'" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- query --out
def test_query_out_round_trips_through_duckdb_writers(loaded: Path, tmp_path: Path, capsys) -> None:
    sql = ("SELECT title, published_at, categories, char_count FROM articles WHERE source = 'archive' "
           "ORDER BY published_at, title")
    warehouse = loaded / "wh.duckdb"
    expected = rows(warehouse, sql)
    assert len(expected) == 15
    con = duckdb.connect()
    readers = {"parquet": "read_parquet", "csv": "read_csv_auto", "json": "read_json_auto"}
    for ext, reader in readers.items():
        out = tmp_path / f"result.{ext}"
        assert main(["query", sql, "--out", str(out), "--config", str(loaded / "newsetl.yaml")]) == 0
        assert capsys.readouterr().err == f"wrote 15 rows to {out} ({ext})\n"
        back = con.execute(f"SELECT title, published_at, categories, char_count FROM {reader}('{out}')").fetchall()
        titles = [r[0] for r in back]
        assert titles == [r[0] for r in expected]
        assert [r[3] for r in back] == [r[3] for r in expected]
        if ext == "parquet":  # types survive: TIMESTAMPTZ and VARCHAR[]
            assert back == expected
    assert json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))[0]["title"] == expected[0][0]

    assert main(["query", "SELECT 1", "--out", str(tmp_path / "x.xlsx"), "--config", str(loaded / "newsetl.yaml")]) == 2
    assert "unknown extension '.xlsx'; use .csv, .json, .parquet" in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()
    # The reader stays locked down: the user's SQL itself cannot write a file.
    target = tmp_path / "sneaky.csv"
    assert main(["query", f"COPY (SELECT 1) TO '{target}'", "--config", str(loaded / "newsetl.yaml")]) == 2
    assert not target.exists()


# --------------------------------------------------------------------------------- durations and --source
def test_one_duration_grammar() -> None:
    now = datetime(2024, 5, 10, 12, tzinfo=timezone.utc)
    assert parse_moment("7d", now=now) == now - timedelta(days=7)
    assert parse_moment("2h", now=now) == now - timedelta(hours=2)
    assert parse_moment("30m", now=now) == now - timedelta(minutes=30)
    assert parse_moment("2024-05-01", now=now) == datetime(2024, 5, 1, tzinfo=timezone.utc)
    shanghai = ZoneInfo("Asia/Shanghai")
    assert parse_moment("2024-05-01", zone=shanghai) == datetime(2024, 4, 30, 16, tzinfo=timezone.utc)
    assert parse_moment("2024-05-01T08:30", now=now) == datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc)
    assert parse_moment("2024-05-01 08:30+08:00") == datetime(2024, 5, 1, 0, 30, tzinfo=timezone.utc)
    for bad in ("yesterday", "2024", "7 days", "2024-13-01"):
        with pytest.raises(ValueError, match="not a moment"):
            parse_moment(bad, now=now)
    assert [parse_duration(v) for v in ("90", "45s", "15m", "12h", "7d", "2w", 1.5)] == [
        90, 45, 900, 43200, 604800, 1209600, 1.5]


def test_every_since_takes_the_grammar_and_unknown_sources_are_listed(loaded: Path, capsys) -> None:
    config = str(loaded / "newsetl.yaml")
    for argv in (["images", "--since", "yesterday"], ["backfill", "--since", "last week"],
                 ["backfill", "--since", "7d", "--until", "soon"], ["search", "x", "--since", "2024"]):
        assert main([*argv, "--config", config]) == 2, argv
        assert "not a moment" in capsys.readouterr().err
    assert main(["backfill", "--since", "2d", "--until", "9d", "--config", config]) == 2
    assert re.search(r"--until \d{4}-\d\d-\d\d is before --since", capsys.readouterr().err)

    for argv in (["backfill", "--since", "7d", "--source", "nope"], ["reprocess", "--rules-changed", "--source", "nope"],
                 ["search", "x", "--source", "nope"]):
        assert main([*argv, "--config", config]) == 2, argv
        assert re.search(r"unknown source 'nope' \((configured|known): archive\)", capsys.readouterr().err)

    # An age works wherever a date did: everything was published before 2 days ago, so nothing is selected.
    assert main(["search", "工信部", "--since", "2d", "--format", "csv", "--config", config]) == 0
    assert capsys.readouterr().out == "score,published_at,source,title,article_id,url\n"


def test_lock_is_filelock_with_the_holder_in_the_message(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with warehouse_lock(warehouse, holder="flow run abc"):
        with pytest.raises(WarehouseBusy, match=r"is busy: another newsetl run is writing it \(held by pid \d+, "
                                                r"flow run abc\); waited 0.3 s"):
            with warehouse_lock(warehouse, 0.3):
                pass
    with warehouse_lock(warehouse, 0):  # released: free again at once
        pass
