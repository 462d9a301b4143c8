"""Fast by default (issue 15): the process runner is the default, and a rerun skips unchanged files by their
stat (size, mtime_ns, inode) without reading them, while `rehash` reads and hashes every file again."""

from __future__ import annotations

import os
from pathlib import Path

from schedule_helpers import copy_posts, make, rows

from newsetl.config import Config, RunnerConfig
from newsetl.flows.ingest import ingest
from newsetl.flows.runners import ProcessTaskRunner, task_runner_for, with_runner

LAST_YEAR_NS = 1_700_000_000 * 10**9  # 2023-11-14: old enough to be trusted (not "racily clean")
STATE = "SELECT locator, file_hash, size, mtime_ns, inode, hash_salt FROM source_files ORDER BY locator"


def test_default_runner_is_the_process_pool() -> None:
    assert Config().runner.kind == "processes"
    runner = task_runner_for(RunnerConfig())
    assert type(runner) is ProcessTaskRunner and runner.workers == (os.cpu_count() or 1)


def _age(posts: Path) -> list[Path]:
    files = sorted(p for p in posts.rglob("*.md"))
    for i, path in enumerate(files):
        os.utime(path, ns=(LAST_YEAR_NS + i, LAST_YEAR_NS + i))
    return files


def test_stat_skip_touch_and_rehash(tmp_path: Path) -> None:
    posts = copy_posts(tmp_path)
    files = _age(posts)
    config = make(tmp_path, posts, runner={"kind": "threads"})
    run = with_runner(ingest, config)
    warehouse = config.resolve(config.warehouse)

    first = run(config)
    assert (first["new"], first["discovered"]) == (len(files), len(files))
    state = rows(warehouse, STATE)
    assert len(state) == len(files)
    by_locator = {row[0]: row for row in state}
    for path in files:  # every file's stat is recorded with its hash
        st = path.stat()
        locator = path.relative_to(posts).as_posix()
        assert by_locator[locator][2:] == (st.st_size, st.st_mtime_ns, st.st_ino, "")

    # Touched: a new mtime, the same bytes. Re-read and re-hashed, found unchanged, its new stat recorded.
    touched = files[0]
    os.utime(touched, ns=(LAST_YEAR_NS + 10**12, LAST_YEAR_NS + 10**12))
    second = run(config)
    assert (second["new"], second["updated"], second["unchanged"]) == (0, 0, len(files))
    locator = touched.relative_to(posts).as_posix()
    assert rows(warehouse, "SELECT mtime_ns FROM source_files WHERE locator = ?", [locator]) == \
        [(LAST_YEAR_NS + 10**12,)]

    # Changed bytes, same size, mtime put back: the stat matches, so a normal run does not read the file...
    changed = files[1]
    before = changed.stat()
    data = changed.read_bytes()
    at = data.rindex("的".encode())  # in the body; the same number of bytes as "一"
    changed.write_bytes(data[:at] + "一".encode() + data[at + 3:])
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert changed.stat().st_size == before.st_size and changed.stat().st_ino == before.st_ino
    third = run(config)
    assert (third["updated"], third["unchanged"]) == (0, len(files))
    # ...and --rehash (config `rehash: true`) reads every file and catches it.
    rehash = make(tmp_path, posts, runner={"kind": "threads"}, rehash=True)
    fourth = with_runner(ingest, rehash)(rehash)
    assert (fourth["updated"], fourth["unchanged"]) == (1, len(files) - 1)
    new_hash = rows(warehouse, "SELECT file_hash FROM source_files WHERE locator = ?",
                    [changed.relative_to(posts).as_posix()])[0][0]
    assert new_hash != by_locator[changed.relative_to(posts).as_posix()][1]


def test_recent_files_are_hashed_again(tmp_path: Path) -> None:
    """A file modified within two seconds of the scan may change again unseen in the same mtime tick: its stat
    is not trusted (recorded as NULL), so the next run reads it again (git's racily clean entries)."""
    posts = copy_posts(tmp_path)
    files = _age(posts)
    fresh = files[2]
    fresh.touch()
    config = make(tmp_path, posts, runner={"kind": "threads"})
    with_runner(ingest, config)(config)
    warehouse = config.resolve(config.warehouse)
    stats = dict(rows(warehouse, "SELECT locator, mtime_ns FROM source_files"))
    assert stats[fresh.relative_to(posts).as_posix()] is None
    assert sum(v is not None for v in stats.values()) == len(files) - 1


def test_memory_limit_caps_duckdb(tmp_path: Path) -> None:
    import duckdb
    import pytest

    from newsetl.config import config_from_dict
    from newsetl.errors import ConfigError, NewsetlError
    from newsetl.warehouse.db import limit_memory

    assert Config().memory_limit == "256MB"
    con = duckdb.connect(str(tmp_path / "m.duckdb"))
    limit_memory(con, "256MB")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "244.1 MiB"  # DuckDB reports 256 MB (10^6) in MiB
    with pytest.raises(NewsetlError):
        limit_memory(con, "1; DROP TABLE x")
    with pytest.raises(ConfigError):
        config_from_dict({"memory_limit": "lots"}, base_dir=tmp_path)
