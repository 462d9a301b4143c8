"""The Prefect API that `newsetl ingest` starts never outlives it: after `kill -9` of the real CLI in the
middle of an ingest, no process it started (the API server, the worker pool) is left running."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
POSTS = ROOT / "tests" / "fixtures" / "posts"


def _many_posts(target: Path, copies: int) -> Path:
    files = sorted(POSTS.rglob("*.md"))
    for n in range(copies):
        for i, path in enumerate(files):
            folder = target / f"copy {n}"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, folder / f"{i}.md")
    return target


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _is_api_server(process: psutil.Process) -> bool:
    try:
        cmdline = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    return "newsetl.runtime.prefect_server" in cmdline or "prefect.server.api.server" in cmdline


def test_kill_9_of_an_ingest_leaves_no_prefect_server(tmp_path: Path) -> None:
    posts = _many_posts(tmp_path / "posts", 40)  # 600 posts: the run is still loading when it is killed
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    cli = subprocess.Popen([sys.executable, "-m", "newsetl.cli", "ingest", str(posts), "--no-images",
                            "--warehouse", str(tmp_path / "wh.duckdb")], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(cli.pid)
    deadline = time.monotonic() + 240
    try:
        # Wait for the flow to be running: the API server is up and the worker pool has started.
        while True:
            assert cli.poll() is None, "the ingest ended before it could be killed"
            assert time.monotonic() < deadline, "the ingest never got going"
            started = _descendants(parent)
            servers = [p for p in started if _is_api_server(p)]
            workers = [p for p in started if not _is_api_server(p)]
            if servers and workers and (tmp_path / "wh.duckdb").exists():
                break
            time.sleep(0.05)
        assert len(servers) == 1 and servers[0].ppid() == cli.pid
    finally:
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait()
    gone, alive = psutil.wait_procs(started, timeout=15)
    assert [p for p in alive if _is_api_server(p)] == []
    assert alive == []  # nor any worker process
