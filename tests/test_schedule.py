"""A served deployment fires on its interval schedule against a real Prefect server and loads data."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from newsetl.runtime.local_server import prefect_version
from prefect_like import PrefectLike
from schedule_helpers import PYTHON, ROOT, config_dict, copy_posts, newsetl, rows, write_config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(child: subprocess.Popen) -> str:
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGINT)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return child.stdout.read() if child.stdout else ""


@pytest.fixture
def prefect_server(tmp_path: Path):
    """`prefect server start` on a free loopback port with its own Prefect home; yields the API URL."""
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_UI_ENABLED": "false"}
    child = subprocess.Popen([PYTHON, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                              str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"

    def healthy() -> bool:
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(healthy, 180, "the Prefect server")
        yield api
    finally:
        _stop(child)


def _flow_runs(api: str) -> list[dict]:
    try:  # a busy server may answer slowly: just poll again
        return httpx.post(f"{api}/flow_runs/filter", json={"sort": "START_TIME_ASC"}, timeout=30).json()
    except httpx.HTTPError:
        return []


def _log_messages(api: str) -> list[str]:
    try:
        return [log["message"] for log in httpx.post(f"{api}/logs/filter", json={"sort": "TIMESTAMP_ASC"},
                                                     timeout=30).json()]
    except httpx.HTTPError:
        return []


def test_served_interval_deployment_runs_and_loads(tmp_path: Path, prefect_server: str) -> None:
    posts = copy_posts(tmp_path)
    config = write_config(tmp_path, config_dict(tmp_path, posts, deployments=[
        {"name": "every-5s", "interval": "5s", "sources": ["posts"]}]))
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "PREFECT_RUNNER_POLL_FREQUENCY": "2",
           "PREFECT_HOME": str(tmp_path / "serve-home")}
    serve = subprocess.Popen([PYTHON, "-m", "newsetl.cli", "serve", "--config", str(config)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        def completed() -> list[dict]:
            return [r for r in _flow_runs(prefect_server)
                    if r["state_type"] == "COMPLETED" and r["name"] and r["deployment_id"]]

        done = _wait(completed, 240, "a completed scheduled run")
        # the served run's logs reach the server at INFO (the UI's Logs tab): the ingest's phase lines with counts.
        # Waited for before stopping `serve`: the run's process sends its last logs as it exits, after its
        # Completed state, and stopping the process group first could cut that short on a loaded machine.
        load_lines = _wait(lambda: [m for m in _log_messages(prefect_server) if m.startswith("load: ")], 60,
                           "the served run's logs")
    finally:
        output = _stop(serve)

    assert "deployment newsetl-scheduled/every-5s: every 5 s, sources: posts" in output
    assert f"Prefect API: {prefect_server}" in output
    assert done[0]["state_name"] == "Completed"
    assert done[0]["parameters"] == {"config_path": str(config.resolve()), "deployment": "every-5s"}
    runs = rows(tmp_path / "wh.duckdb", "SELECT flow_run_id, status, new FROM ingest_runs ORDER BY started_at")
    assert runs[0][1:] == ("completed", 15)
    assert re.match(rf"load: \d+ files read, {runs[0][2]} new, 0 updated, 0 unchanged, 0 rejected \(", load_lines[0])
    assert any(re.match(r"discover: \d+ files in 1 sources", m) for m in _log_messages(prefect_server))
    assert rows(tmp_path / "wh.duckdb", "SELECT count(*) FROM articles")[0][0] == 15


def test_serve_without_server_or_deployments_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, config_dict(tmp_path, tmp_path))
    result = newsetl("serve", "--config", str(config))
    assert (result.returncode, result.stderr) == (
        2, f"newsetl: error: {config}: no deployments: add a `deployments:` section with cron or interval\n")
    config = write_config(tmp_path, config_dict(tmp_path, tmp_path, deployments=[
        {"name": "nightly", "cron": "0 2 * * *", "timezone": "Asia/Shanghai"}]))
    result = newsetl("serve", "--config", str(config), env={"PREFECT_API_URL": ""})
    need = ("newsetl: error: schedules need a Prefect server: run `prefect server start` on this machine, or "
            "`export PREFECT_API_URL=http://HOST:4200/api` for one elsewhere\n")
    assert (result.returncode, result.stderr) == (2, need)
    # A server of an older Prefect listening where `prefect server start` would: serve looks there (the suite
    # turns finding off, tests/conftest.py), passes it over in one line, and says what it needs.
    with PrefectLike("3.0.0") as old:
        result = newsetl("serve", "--config", str(config), env={
            "PREFECT_API_URL": "", "NEWSETL_FIND_PREFECT_SERVER": "1", "PREFECT_SERVER_API_PORT": str(old.port)})
    assert (result.returncode, result.stderr) == (2, f"not using the Prefect server on 127.0.0.1:{old.port}: it runs "
                                                     f"Prefect 3.0.0, this newsetl Prefect {prefect_version()}\n" + need)
    assert old.requests == ["/api/health", "/api/admin/version"]
    bad = write_config(tmp_path, config_dict(tmp_path, tmp_path, deployments=[{"name": "x", "interval": "5s",
                                                                               "sources": ["nope"]}]))
    result = newsetl("serve", "--config", str(bad))
    assert (result.returncode, result.stderr) == (
        2, f"newsetl: error: {bad}: deployments: x: unknown source 'nope'\n")
