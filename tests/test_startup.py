"""Issue 15's start-up work: listing with os.scandir exactly as pathlib's glob lists, the program's quick exit,
the start-up timeline, and no flow-run heartbeats on the private Prefect API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path

import pytest

from newsetl.posts.discover import iter_post_files, posix_glob

ROOT = Path(__file__).resolve().parent.parent


def _tree(tmp_path: Path) -> Path:
    """Folders, hidden files, a folder named like a post, symlinked folders (inside and outside the root), file
    symlinks, a broken link, a loop, a FIFO and names whose string order differs from pathlib's path order."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    for folder in ("a/b/c", "a-b", "a.b", ".hidden", "dir.md", "x/a"):
        (root / folder).mkdir(parents=True)
    outside.mkdir()
    for name in ("top.md", "a/one.md", "a/b/two.md", "a/b/c/three.md", "a-b/four.md", "a.b/five.md",
                 ".hidden/six.md", ".dot.md", "dir.md/seven.md", "x/a/eight.md", "a/notes.txt", "a/B.MD"):
        (root / name).write_text("x", encoding="utf-8")
    (outside / "secret.md").write_text("x", encoding="utf-8")
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    (root / "a" / "up").symlink_to(root, target_is_directory=True)  # a loop back to the root
    (root / "a" / "link.md").symlink_to(root / "top.md")
    (root / "gone.md").symlink_to(root / "nothing.md")
    os.mkfifo(root / "pipe.md")
    return root


PATTERNS = ["**/*.md", "*.md", "*/*.md", "outdir/*.md", "a/up/*.md", "**", "**/", "*/", "a/**/*.md", "**/a/*.md",
            "a/[ob]*.md", "a/one.md", "a/b", "a/../top.md", "missing/*.md", "./a/*.md", "a//b/*.md", "gone.md",
            "a/up/a/*.md", "**/*.MD"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_posix_glob_lists_what_pathlib_lists(tmp_path, pattern):
    root = _tree(tmp_path)
    expected = sorted(path.relative_to(root).as_posix() if path != root else "" for path in root.glob(pattern))
    assert sorted(posix_glob(root, pattern)) == expected


def test_patterns_pathlib_refuses_are_refused_alike(tmp_path):
    root = _tree(tmp_path)
    for pattern in ("", "/abs/*.md", "a**/*.md"):
        with pytest.raises((ValueError, NotImplementedError)) as refused:
            list(root.glob(pattern))
        with pytest.raises(refused.type):
            list(posix_glob(root, pattern))


def test_iter_post_files_is_the_pathlib_listing_in_pathlib_order(tmp_path):
    root = _tree(tmp_path)

    def pathlib_listing(globs: list[str], exclude: list[str]) -> list[Path]:  # the implementation it replaced
        found: set[Path] = set()
        for pattern in globs:
            found.update(root.glob(pattern))
        files = sorted(found)
        return [p for p in files if not any(fnmatch(p.relative_to(root).as_posix(), x) for x in exclude)]

    for globs, exclude in [(["**/*.md"], []), (["**/*.md", "outdir/*.md", "a/up/*.md"], ["a/b/*"]),
                           (["**"], ["*.txt"]), (["*/*.md", "**/*.md"], [".*", "*/.*"]), (["**"], ["."])]:
        listed = iter_post_files(root, globs, exclude)
        assert listed == pathlib_listing(globs, exclude)
    order = [p.relative_to(root).as_posix() for p in iter_post_files(root, ["**/*.md"], [])]
    assert order.index("a/b/two.md") < order.index("a-b/four.md")  # path order: "a" < "a-b", though "/" > "-"


def _cli(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    timeline = tmp_path / "timeline.jsonl"
    env = {**os.environ, "NEWSETL_TIMELINE": str(timeline)}
    env.pop("PREFECT_API_URL", None)
    run = subprocess.run([sys.executable, "-m", "newsetl.cli", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    stamps = [name for name, _ in json.loads(timeline.read_text().splitlines()[-1])["stamps"]]
    return run, stamps


def test_the_program_exits_quickly_with_its_exit_code_and_all_its_output(tmp_path):
    from newsetl.warehouse.db import connect_writer

    warehouse = tmp_path / "wh.duckdb"
    connect_writer(warehouse).close()
    run, stamps = _cli(["query", "SELECT range AS n FROM range(50000)", "--format", "csv", "--warehouse",
                        str(warehouse)], tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 50001 and lines[0] == "n" and lines[-1] == "49999"  # flushed before os._exit
    assert stamps == ["cli imported", "config loaded", "command done", "exit handlers done"]

    run, stamps = _cli(["query", "SELEC 1", "--warehouse", str(warehouse)], tmp_path)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("newsetl: error:")
    assert stamps[-1] == "exit handlers done"


def test_no_flow_run_heartbeats_on_the_private_api_only(monkeypatch):
    import prefect.settings

    from newsetl.cli.main import flow_settings
    from newsetl.runtime import prefect_server

    def heartbeat(command: str = "ingest") -> int | None:
        with flow_settings(command):
            return prefect.settings.get_current_settings().flows.heartbeat_frequency

    assert heartbeat() == 180  # a configured API (here the test session's) keeps Prefect's default
    private = prefect_server.PrivateApi()
    private.port = 4321
    monkeypatch.setattr(prefect_server, "_api", private)
    monkeypatch.setenv("PREFECT_API_URL", private.api_url)
    assert heartbeat() is None
    assert heartbeat("query") == 180  # commands that run no flow: untouched
    assert prefect.settings.get_current_settings().flows.heartbeat_frequency == 180  # only inside the context


def _aged(root: Path, seconds: float = 60) -> None:
    """Give every folder under `root` an mtime `seconds` in the past (older than the racy window)."""
    past = time.time() - seconds
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
        os.utime(folder, (past, past))


def test_a_listing_made_ahead_is_taken_only_while_its_folders_are_unchanged(tmp_path):
    from newsetl.config import HexoDirSource
    from newsetl.posts.discover import list_ahead, list_sources

    root = tmp_path / "posts"
    (root / "a" / "b").mkdir(parents=True)
    for name in ("one.md", "a/two.md", "a/b/three.md"):
        (root / name).write_text("x", encoding="utf-8")
    source = HexoDirSource(name="s", path=root)

    def listed() -> list[str]:
        return [f.locator for f in list_sources([(source, root)]).files]

    def add_unseen(name: str) -> None:  # a new file, its folder's mtime put back: only a listing ahead misses it
        folder = (root / name).parent
        before = os.stat(folder).st_mtime_ns
        (root / name).write_text("x", encoding="utf-8")
        os.utime(folder, ns=(before, before))

    _aged(root)
    list_ahead([(root, source.globs, source.exclude)])
    list_ahead([(root, ["*/*.md"], [])])  # not listed ahead: `*/` follows symlinked folders
    time.sleep(0.5)
    add_unseen("a/b/four.md")
    assert listed() == ["a/b/three.md", "a/two.md", "one.md"]  # the listing made ahead was taken
    assert listed() == ["a/b/four.md", "a/b/three.md", "a/two.md", "one.md"]  # taken once; now listed afresh

    list_ahead([(root, source.globs, source.exclude)])
    time.sleep(0.5)
    (root / "a" / "b" / "five.md").write_text("x", encoding="utf-8")  # its folder's mtime changes
    assert "a/b/five.md" in listed()

    list_ahead([(root, source.globs, source.exclude)])  # folders modified just now: racy, not trusted
    time.sleep(0.5)
    add_unseen("a/six.md")
    assert "a/six.md" in listed()
