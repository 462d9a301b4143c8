"""Shared by the benches: run a command in a child process and sample its peak memory while it runs."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(slots=True)
class ChildRun:
    """What a child process did: exit code, output, wall seconds, peak RSS of it and of it with its children."""

    returncode: int
    out: str
    err: str
    wall: float
    peak_main_mb: float
    peak_tree_mb: float


def run_sampled(command: list[str], cwd: Path, env: dict[str, str]) -> ChildRun:
    """Run `command`, sampling RSS every 50 ms: the process, and it with its children (Prefect API, workers)."""
    import psutil

    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process = psutil.Process(child.pid)
    peak_main = peak_tree = 0
    while child.poll() is None:
        try:
            main = process.memory_info().rss
            tree = main + sum(p.memory_info().rss for p in process.children(recursive=True))
        except psutil.Error:
            main = tree = 0
        peak_main, peak_tree = max(peak_main, main), max(peak_tree, tree)
        time.sleep(0.05)
    out, err = child.communicate()
    return ChildRun(child.returncode, out, err, time.perf_counter() - started, peak_main / 2**20, peak_tree / 2**20)


SUMMARY_SECONDS = re.compile(r"\(run \w+, ([0-9.]+) s[;)]")


def run_summary(stderr: str) -> tuple[dict, float | None]:
    """The run summary and the flow's seconds from `newsetl ... --log-format json` stderr ({} and None if none)."""
    summary, flow = {}, None
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == "summary":
            summary = record.get("summary") or {}
            match = SUMMARY_SECONDS.search(record.get("message", ""))
            flow = float(match.group(1)) if match else None
    return summary, flow


@contextmanager
def running_prefect_server(home: Path, timeout: float = 240) -> Iterator[int]:
    """A real `prefect server start` on a free 127.0.0.1 port (its own PREFECT_HOME), as a user keeps one running;
    yields the port once /api/health answers, then stops it (its whole process group)."""
    import os
    import signal
    import socket
    import sys
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    prefect = str(Path(sys.executable).with_name("prefect"))
    server = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                        f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"`prefect server start` did not answer on port {port}")
            time.sleep(0.2)
        yield port
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
