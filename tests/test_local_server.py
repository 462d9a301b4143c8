"""A Prefect server running on this machine as this user is found and used; any other is passed over (issue 15).

Real HTTP servers on 127.0.0.1: a small one answering Prefect's /api/health and /api/admin/version as a
`prefect server start` does, and for the end-to-end test the session's real Prefect API, found on its port
by the real `newsetl` program.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from newsetl.runtime import local_server
from newsetl.runtime.local_server import prefect_version
from prefect_like import PrefectLike

ROOT = Path(__file__).resolve().parent.parent
LINUX_TABLES = Path("/proc/net/tcp").exists()


@pytest.fixture
def finding(monkeypatch):
    """Finding on (the suite turns it off, tests/conftest.py), no configured host or port."""
    monkeypatch.delenv(local_server.SWITCH, raising=False)
    for name in ("PREFECT_SERVER_API_HOST", "PREFECT_SERVER_API_PORT", "PREFECT_PROFILES_PATH", "PREFECT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _bumped(version: str, major: int = 0, minor: int = 0) -> str:
    parts = [int(p) for p in version.split(".")[:3]]
    return f"{parts[0] + major}.{max(parts[1] + minor, 0)}.{parts[2]}"


@pytest.mark.skipif(not LINUX_TABLES, reason="finding needs Linux's socket tables")
def test_a_running_server_of_this_user_is_used_and_another_version_is_passed_over(finding) -> None:
    ours = prefect_version()
    with PrefectLike(ours) as same, PrefectLike(_bumped(ours, minor=1)) as newer, \
            PrefectLike(_bumped(ours, minor=-1)) as older, PrefectLike(_bumped(ours, major=1)) as other_major, \
            PrefectLike(ours, healthy=False) as unhealthy:
        for server, found in ((same, True), (newer, True), (older, False), (other_major, False), (unhealthy, False)):
            finding.setenv("PREFECT_SERVER_API_PORT", str(server.port))
            url = local_server.find_running_server()
            assert url == (f"http://127.0.0.1:{server.port}/api" if found else None), server.version
            assert server.requests[0] == "/api/health"
        assert local_server.passed_over is None  # unhealthy: nothing said (a server still starting)
        finding.setenv("PREFECT_SERVER_API_PORT", str(older.port))
        assert local_server.find_running_server() is None
        assert local_server.passed_over == (f"not using the Prefect server on 127.0.0.1:{older.port}: it runs "
                                            f"Prefect {older.version}, this newsetl Prefect {ours}")

        # Turned off, or a host that is not this machine: not even asked.
        finding.setenv("PREFECT_SERVER_API_PORT", str(same.port))
        asked = len(same.requests)
        for switch in ("0", "false", "Off"):
            finding.setenv(local_server.SWITCH, switch)
            assert local_server.find_running_server() is None
        finding.delenv(local_server.SWITCH)
        finding.setenv("PREFECT_SERVER_API_HOST", "10.1.2.3")
        assert local_server.find_running_server() is None
        assert len(same.requests) == asked
        finding.setenv("PREFECT_SERVER_API_HOST", "localhost")
        assert local_server.find_running_server() == f"http://127.0.0.1:{same.port}/api"

    # Nothing listens on the port any more: no server, nothing said.
    assert local_server.find_running_server() is None and local_server.passed_over is None


@pytest.mark.skipif(not LINUX_TABLES, reason="finding needs Linux's socket tables")
def test_a_port_of_another_user_is_passed_over_unasked(finding, tmp_path: Path) -> None:
    """Flow runs carry paths, parameters and logs: a server that another user's process listens with is never
    sent a request. (The kernel's table is copied with the owner changed: the test cannot switch users.)"""
    with PrefectLike(prefect_version()) as server:
        finding.setenv("PREFECT_SERVER_API_PORT", str(server.port))
        assert local_server.listener_owners(server.port, local_server._read_tables(local_server.SOCKET_TABLES)) == {
            os.getuid()}  # the real table: this process's own listener
        hex_port = f"{server.port:04X}"
        table = tmp_path / "tcp"
        table.write_text(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            f"   0: 0100007F:{hex_port} 00000000:0000 0A 00000000:00000000 00:00000000 00000000  {os.getuid() + 1}"
            "        0 1 1 0 100 0 0 10 0\n")
        finding.setattr(local_server, "SOCKET_TABLES", (str(table),))
        assert local_server.find_running_server() is None
        assert local_server.passed_over == (f"not using the Prefect server port 127.0.0.1:{server.port}: it belongs "
                                            "to another user")
        assert server.requests == []


def test_the_listeners_that_127_0_0_1_reaches_are_read_from_the_kernels_tables() -> None:
    tcp = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1068 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 11 1\n"  # 127.0.0.1:4200
        "   1: 00000000:1068 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 0 12 1\n"  # 0.0.0.0:4200
        "   2: 0200007F:1068 00000000:0000 0A 00000000:00000000 00:00000000 00000000  2000 0 13 1\n"  # 127.0.0.2
        "   3: 0100007F:1068 0100007F:C350 01 00000000:00000000 00:00000000 00000000  3000 0 14 1\n"  # a connection
        "   4: 0100007F:1069 00000000:0000 0A 00000000:00000000 00:00000000 00000000  4000 0 15 1\n"  # port 4201
        "   5: garbage\n")
    tcp6 = (
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
        "tm->when retrnsmt   uid  timeout inode\n"
        "   0: 00000000000000000000000000000000:1068 00000000000000000000000000000000:0000 0A 00000000:00000000 "
        "00:00000000 00000000  5000 0 16 1\n"  # [::]:4200, dual-stack
        "   1: 0000000000000000FFFF00000100007F:1068 00000000000000000000000000000000:0000 0A 00000000:00000000 "
        "00:00000000 00000000  6000 0 17 1\n"  # [::ffff:127.0.0.1]:4200
        "   2: 00000000000000000000000001000000:1068 00000000000000000000000000000000:0000 0A 00000000:00000000 "
        "00:00000000 00000000  7000 0 18 1\n")  # [::1]:4200: 127.0.0.1 does not reach it
    assert local_server.listener_owners(4200, [tcp, tcp6]) == {1000, 0, 5000, 6000}
    assert local_server.listener_owners(4201, [tcp]) == {4000}
    assert local_server.listener_owners(4202, [tcp, tcp6]) == set()


def test_versions_that_a_client_accepts_without_complaint() -> None:
    assert local_server.usable_version("3.8.8", "3.8.8")
    assert local_server.usable_version("3.9.0", "3.8.8")
    assert not local_server.usable_version("3.8.7", "3.8.8")  # Prefect warns: server older than the client
    assert not local_server.usable_version("4.0.0", "3.8.8")  # Prefect refuses another major version
    assert not local_server.usable_version("not a version", "3.8.8")


@pytest.mark.skipif(not LINUX_TABLES, reason="finding needs Linux's socket tables")
def test_the_program_runs_its_flow_on_a_running_server_it_finds(tmp_path: Path) -> None:
    """The real `newsetl ingest`, with no API configured and the session's Prefect API on the port where
    `prefect server start` would listen: no private API starts, the flow run is in that server, and the summary
    links to it."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    port = urlsplit(api).port
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", local_server.SWITCH)}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_API_PORT=str(port),
               NEWSETL_TIMELINE=str(tmp_path / "timeline.jsonl"))
    posts = ROOT / "tests" / "fixtures" / "posts"
    run = subprocess.run([sys.executable, "-m", "newsetl.cli", "ingest", str(posts), "--no-images", "--warehouse",
                          str(tmp_path / "wh.duckdb")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    (line,) = (json.loads(text) for text in (tmp_path / "timeline.jsonl").read_text().splitlines())
    stamps = [name for name, _ in line["stamps"]]  # one line: no private API server wrote its own
    assert stamps[0] == "api found running" and "api server started" not in stamps
    files = len(list(posts.rglob("*.md")))
    assert f": {files} discovered, {files} new, 0 updated, 0 unchanged, 0 rejected" in run.stdout
    (link,) = re.findall(r"^Prefect flow run: (\S+)$", run.stdout, re.M)
    assert link.startswith(f"http://127.0.0.1:{port}/runs/flow-run/")
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(link.rsplit("/", 1)[1])
    assert flow_run.state.is_completed() and flow_run.parameters["paths"] == [str(posts)]
