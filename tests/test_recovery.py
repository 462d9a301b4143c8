"""Crash recovery: a run killed with `kill -9` is marked `aborted` by the next run (data stays whole), and
`newsetl serve` stops cleanly on SIGTERM and SIGINT. Real processes against the session's Prefect API."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import yaml

from newsetl.config import config_from_dict
from newsetl.flows.ingest import ingest
from newsetl.runs import RunSummary
from newsetl.warehouse.db import connect_writer
from newsetl.warehouse.runs import abort_abandoned_runs, start_run
from tests.helpers import rows

ROOT = Path(__file__).resolve().parent.parent
POSTS = ROOT / "tests" / "fixtures" / "posts"


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def _copies(target: Path, copies: int) -> int:
    files = sorted(POSTS.rglob("*.md"))
    for n in range(copies):
        folder = target / f"copy {n}"
        folder.mkdir(parents=True)
        for i, path in enumerate(files):
            shutil.copyfile(path, folder / f"{i}.md")
    return copies * len(files)


class Lines:
    """A child's output read line by line on a thread, so the pipe never fills; `wait_for` a line."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()

    def wait_for(self, text: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._seen:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                assert left > 0, f"no line with {text!r} in {seconds} s:\n{''.join(self.lines)}"
                self._seen.wait(left)

    def text(self) -> str:
        self._thread.join(timeout=10)
        return "".join(self.lines)


def test_next_run_marks_a_killed_run_aborted(tmp_path: Path) -> None:
    total = _copies(tmp_path / "posts", 40)
    warehouse = tmp_path / "wh.duckdb"
    data = {"warehouse": str(warehouse), "batch_size": 20, "images": {"enabled": False},
            "reporting": {"enabled": False}, "sources": [{"type": "hexo_dir", "name": "posts",
                                                          "path": str(tmp_path / "posts")}]}
    (tmp_path / "newsetl.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    env = {**os.environ, "PREFECT_API_URL": _api_url()}  # the session's API: no server of its own to start
    child = subprocess.Popen([sys.executable, "-m", "newsetl.cli", "ingest", "-v", "--config",
                              str(tmp_path / "newsetl.yaml")], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        Lines(child.stderr).wait_for("discover:", 120)  # its ingest_runs row is written before discovery
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    killed_at = datetime.now(timezone.utc)
    assert child.returncode == -signal.SIGKILL

    summary = ingest(config_from_dict(data, base_dir=tmp_path))  # the next run, in this process

    runs = rows(warehouse, "SELECT run_id, status, pid, host, aborted_at, message, finished_at "
                           "FROM ingest_runs ORDER BY started_at")
    assert len(runs) == 2
    (killed_id, status, pid, host, aborted_at, message, finished_at), second = runs
    assert (status, pid, host, finished_at) == ("aborted", child.pid, socket.gethostname(), None)
    assert killed_at <= aborted_at <= datetime.now(timezone.utc)
    assert message == (f"aborted: its process (pid {child.pid} on {socket.gethostname()}) ended without "
                       f"finishing the run; found by run {summary['run_id']}")
    assert second[:4] == (summary["run_id"], "completed", os.getpid(), socket.gethostname())
    assert summary["extra"]["aborted runs"] == killed_id
    # the data is whole: every post once, whichever run loaded it
    assert rows(warehouse, "SELECT count(*), count(DISTINCT article_id) FROM articles")[0] == (total, total)
    assert summary["new"] + summary["unchanged"] + summary["updated"] == total
    assert rows(warehouse, "SELECT count(*) FROM rejects")[0][0] == 0


def test_only_other_processes_running_rows_are_aborted(tmp_path: Path) -> None:
    con = connect_writer(tmp_path / "wh.duckdb")
    try:
        mine, dead, old = RunSummary.begin(), RunSummary.begin(), RunSummary.begin()
        start_run(con, mine, pid=os.getpid(), host=socket.gethostname())  # a run still going in this process
        start_run(con, dead, pid=4_000_000, host=socket.gethostname())
        start_run(con, old)  # written before runs recorded their process
        now = datetime.now(timezone.utc)
        found = abort_abandoned_runs(con, pid=os.getpid(), host=socket.gethostname(), found_by="r1", now=now)
        assert sorted(found) == sorted([(dead.run_id, 4_000_000, socket.gethostname()), (old.run_id, None, None)])
        got = dict((r[0], r[1:]) for r in con.execute(
            "SELECT run_id, status, aborted_at, message FROM ingest_runs").fetchall())
    finally:
        con.close()
    assert got[mine.run_id] == ("running", None, None)
    assert got[dead.run_id] == ("aborted", now, f"aborted: its process (pid 4000000 on {socket.gethostname()}) "
                                                "ended without finishing the run; found by run r1")
    assert got[old.run_id] == ("aborted", now, "aborted: its process (a newsetl version without pid records) "
                                               "ended without finishing the run; found by run r1")


@pytest.mark.parametrize("signum, started_in_background", [
    (signal.SIGTERM, False), (signal.SIGINT, False),
    (signal.SIGTERM, True),  # `nohup newsetl serve &`: the shell ignores SIGINT, which SIGTERM goes through
])
def test_serve_stops_cleanly_on_a_signal(tmp_path: Path, signum: int, started_in_background: bool) -> None:
    _serve_and_stop(tmp_path, signum, started_in_background, registered=True)


def test_serve_stops_cleanly_on_sigterm_while_registering(tmp_path: Path) -> None:
    """SIGTERM as soon as serve prints its API, while it registers the deployment (before Prefect's runner
    installs its own handler): it stops as cleanly (it used to die by the signal, exit -15)."""
    _serve_and_stop(tmp_path, signal.SIGTERM, False, registered=False)


def _serve_and_stop(tmp_path: Path, signum: int, started_in_background: bool, registered: bool) -> None:
    """Start `newsetl serve`; once it serves (`registered`) or as soon as it prints its API, send `signum`:
    it must exit 0 within 10 s, printing "newsetl serve: stopped" and no error."""
    name = f"stop-{signum}"
    (tmp_path / "posts").mkdir()
    data = {"warehouse": str(tmp_path / "wh.duckdb"), "images": {"enabled": False},
            "sources": [{"type": "hexo_dir", "name": "posts", "path": str(tmp_path / "posts")}],
            "deployments": [{"name": name, "cron": "0 3 1 1 *"}]}  # once a year: nothing runs meanwhile
    config = tmp_path / "newsetl.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    api = _api_url()
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "home"), "PYTHONFAULTHANDLER": "1"}
    child = subprocess.Popen([sys.executable, "-m", "newsetl.cli", "serve", "--config", str(config)], cwd=ROOT,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True,
                             preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
                             if started_in_background else None)
    output = Lines(child.stdout)
    try:
        output.wait_for("Prefect API:", 120)
        if registered:
            deadline = time.monotonic() + 60
            while not _deployment_exists(api, name):  # registered: the runner is serving
                assert time.monotonic() < deadline and child.poll() is None, output.text()
                time.sleep(0.5)
            time.sleep(1)
        sent = time.monotonic()
        os.kill(child.pid, signum)
        try:
            code = child.wait(timeout=60)
        except subprocess.TimeoutExpired:  # where it hangs: faulthandler prints every thread's stack on SIGABRT
            os.kill(child.pid, signal.SIGABRT)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            raise AssertionError(f"serve did not stop within 60 s of signal {signum}:\n{output.text()}") from None
        stopped_in = time.monotonic() - sent
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    text = output.text()
    assert code == 0, text
    assert stopped_in < 10, stopped_in
    assert "Traceback" not in text and "Error" not in text, text
    assert text.rstrip().endswith("newsetl serve: stopped"), text


def _deployment_exists(api: str, name: str) -> bool:
    try:
        response = httpx.post(f"{api}/deployments/filter", json={"deployments": {"name": {"any_": [name]}}},
                              timeout=10)
        return response.status_code == 200 and bool(response.json())
    except httpx.HTTPError:
        return False
