"""Shared by the benches: run a command in a child process and sample its peak memory while it runs."""

from __future__ import annotations

import json
import re
import subprocess
import time
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
