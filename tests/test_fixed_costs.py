"""Fixed costs of a run (issue 15): a run with nothing to prepare starts no worker process; listing on strings."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from newsetl.config import HexoDirSource, config_from_dict
from newsetl.flows.ingest import ingest
from newsetl.flows.runners import with_runner
from newsetl.posts.discover import ChangedFiles, FileStat, list_sources
from newsetl.runtime import worker_pool


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_a_no_op_rerun_starts_no_worker_process(tmp_path: Path, posts_dir: Path) -> None:
    config = config_from_dict({"warehouse": str(tmp_path / "wh.duckdb"), "images": {"enabled": False},
                               "reporting": {"enabled": False}, "runner": {"kind": "processes", "workers": 2},
                               "sources": [{"name": "posts", "type": "hexo_dir", "path": str(posts_dir)}]},
                              base_dir=tmp_path)
    posts = len(list(posts_dir.glob("**/*.md")))
    worker_pool.shutdown()
    first = with_runner(ingest, config)(config)
    assert (first["status"], first["new"], first["unchanged"]) == ("completed", posts - first["rejected"], 0)
    pool = worker_pool.current_pool()
    assert pool is not None and len(pool._processes) == 2  # the first run prepared posts on 2 workers

    worker_pool.shutdown()
    before = _children()
    again = with_runner(ingest, config)(config)
    assert (again["status"], again["new"], again["updated"], again["unchanged"]) == (
        "completed", 0, 0, first["new"])
    assert worker_pool.current_pool() is not None and not worker_pool.current_pool()._processes
    assert _children() - before == set()  # no forkserver, no worker: nothing was started


def test_changed_files_calls_on_read_once_before_the_first_read(tmp_path: Path) -> None:
    root = tmp_path / "posts"
    root.mkdir()
    for name in ("a.md", "b.md", "c.md"):
        (root / name).write_text(f"---\ntitle: {name}\n---\n<p>{name}</p>\n")
        old = time.time() - 60  # older than the racy window: its stat is trusted
        os.utime(root / name, (old, old))
    files = list_sources([(HexoDirSource(name="s", path=root), root)]).files
    assert [(f.locator, f.path) for f in files] == [(n, root / n) for n in ("a.md", "b.md", "c.md")]

    calls: list[int] = []
    first = ChangedFiles(files, {}, on_read=lambda: calls.append(1))
    refs = list(first)
    assert [r.locator for r in refs] == ["a.md", "b.md", "c.md"] and calls == [1]
    assert [r.path for r in refs] == [str(root / n) for n in ("a.md", "b.md", "c.md")]

    known = {("s", r.locator): r.file_hash for r in refs}
    stats = {("s", f.locator): first.stat_of("s", f.locator) for f in files}
    assert all(isinstance(s, FileStat) for s in stats.values())
    calls.clear()
    rerun = ChangedFiles(files, known, stats=stats, on_read=lambda: calls.append(1))
    assert list(rerun) == [] and rerun.unread == 3 and calls == []  # nothing read: no worker started
