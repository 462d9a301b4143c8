"""Prefect-native observability of a real `newsetl ingest`: run logs at INFO reach the Prefect API, the terminal
shows newsetl's phases and one summary (no Prefect chatter), the run artifact is markdown tables.

The CLI runs in a child process on a pseudo-terminal (so its progress display is on), against the session's real
Prefect API (tests/conftest.py), which counts as a configured Prefect server: a flow-run link is printed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest

from newsetl.runs import RunSummary, per_source_markdown, run_markdown

ROOT = Path(__file__).resolve().parent.parent
POSTS = ROOT / "tests" / "fixtures" / "posts"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
SEPARATOR = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+$")


def run_on_terminal(args: list[str], env: dict, timeout: float = 240) -> tuple[int, str]:
    """Run a command with stdin/stdout/stderr on a pseudo-terminal; (exit code, output without ANSI codes)."""
    master, slave = os.openpty()
    child = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                             start_new_session=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = child.wait(timeout=30)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return code, text.replace("\r\n", "\n")


def markdown_tables(markdown: str) -> dict[str, list[dict[str, str]]]:
    """Every table of a markdown document, by the heading above it, as rows of {column: cell}.

    Strict: a table is a header row, a separator row and rows with as many cells as the header.
    """
    tables: dict[str, list[dict[str, str]]] = {}
    lines = markdown.splitlines()
    heading = ""
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|"):
            assert i + 1 < len(lines) and SEPARATOR.match(lines[i + 1].strip()), f"no separator under {line!r}"
            header = [c.strip() for c in line.strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", lines[i].strip()[1:-1])]
                assert len(cells) == len(header), f"row {lines[i]!r} does not fit header {header}"
                rows.append(dict(zip(header, cells)))
                i += 1
            tables[heading] = rows
            continue
        i += 1
    return tables


def no_python_reprs(markdown: str) -> None:
    for marker in ("{'", "['", "('", "': ", "Counter(", "None |"):
        assert marker not in markdown, (marker, markdown)


async def _logs_and_artifacts(flow_run_id: UUID) -> tuple[list, list]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId

    async with get_client() as client:
        logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return logs, artifacts


@pytest.fixture(scope="module")
def cli_ingest(prefect_api, tmp_path_factory) -> dict:
    """`newsetl ingest` of the 15 fixture posts on a terminal, against the session's Prefect API."""
    from prefect.settings import PREFECT_API_URL

    root = tmp_path_factory.mktemp("observability")
    shutil.copytree(POSTS, root / "posts")
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_HOME": str(root / "prefect-home"),
           "COLUMNS": "200", "LINES": "50", "TERM": "xterm"}
    for name in ("PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "DO_NOT_TRACK", "CI"):
        env.pop(name, None)  # the CLI's own defaults are under test
    code, output = run_on_terminal([sys.executable, "-m", "newsetl.cli", "ingest", str(root / "posts"),
                                    "--no-images", "--warehouse", str(root / "wh.duckdb")], env)
    match = re.search(r"Prefect flow run: (\S+)/runs/flow-run/([0-9a-f-]{36})", output)
    assert code == 0 and match, output
    flow_run_id = UUID(match.group(2))
    logs, artifacts = [], []
    for _ in range(20):  # logs are sent in batches; the last batch is flushed when the child exits
        logs, artifacts = asyncio.run(_logs_and_artifacts(flow_run_id))
        if any("analytics:" in log.message for log in logs):
            break
        time.sleep(0.5)
    return {"output": output, "ui": match.group(1), "flow_run_id": flow_run_id, "logs": logs,
            "artifacts": artifacts, "api": PREFECT_API_URL.value()}


def test_run_logs_reach_the_prefect_api_at_info(cli_ingest):
    messages = [log.message for log in cli_ingest["logs"] if log.level == 20]
    assert "discover: 15 files in 1 sources" in " ".join(messages)
    assert any(m.startswith("load: 15 files read, 15 new, 0 updated, 0 unchanged, 0 rejected (") for m in messages)
    assert any(m == "images: off, 50 new URLs recorded as pending" for m in messages)
    assert any(m.startswith("analytics: 15 stories (0 with duplicates), 15 articles segmented") for m in messages)
    # Prefect's own run logs are there too (the UI's Logs tab), and the task runs' logs
    assert any("Finished in state Completed" in m for m in messages)
    assert any(log.task_run_id is not None for log in cli_ingest["logs"])


def test_terminal_shows_phases_and_one_summary_without_prefect_chatter(cli_ingest):
    out = cli_ingest["output"]
    phases = ["starting the orchestrator", "discover: 15 files in 1 sources", "load: 15 files read, 15 new",
              "images: off, 50 new URLs", "analytics: 15 stories", "ingest completed"]
    positions = [out.find(p) for p in phases]
    assert -1 not in positions and positions == sorted(positions), (positions, out)
    assert "15/15" in out  # the load bar reached its end
    assert out.count("ingest completed (run ") == 1
    assert cli_ingest["ui"] == cli_ingest["api"].removesuffix("/api")
    for chatter in ("Starting temporary server", "Prefect collects anonymous usage data", "| INFO", "Beginning flow run",
                    "Finished in state", "View at", "Traceback"):
        assert chatter not in out, chatter


def test_run_artifact_is_markdown_tables(cli_ingest):
    summaries = [a for a in cli_ingest["artifacts"] if a.key == "ingest-run-summary"]
    assert len(summaries) == 1
    markdown = summaries[0].data
    no_python_reprs(markdown)
    tables = markdown_tables(markdown)
    [counts] = [rows for heading, rows in tables.items() if heading.startswith("newsetl run")]
    assert counts[0]["discovered"] == "15" and counts[0]["new"] == "15" and counts[0]["rejected"] == "0"
    assert float(counts[0]["duration (s)"]) > 0
    stages = {row["stage"]: float(row["seconds"]) for row in tables["Time per stage"]}
    assert {"discover", "load", "checkpoint", "analytics"} <= set(stages)
    assert tables["Per source"] == [{"source": "posts", "new or updated": "15", "rejected": "0"}]
    analytics = {row["measure"]: row["value"] for row in tables["Analytics"]}
    assert analytics["stories"] == "15" and analytics["articles"] == "15"
    assert "- images: off (50 new URLs recorded as pending; `newsetl images` fetches them)" in markdown


def test_run_markdown_tables_escape_and_split_reject_reasons():
    from datetime import timedelta

    summary = RunSummary.begin(["a|b"])
    summary.finished_at = summary.started_at + timedelta(seconds=2.5)
    summary.decide_status()
    summary.add_problem("feed-x: fetch: http_404")
    summary.reject_reasons = {"parse: no front matter": 3, "fetch: bad | pipe\nnewline": 1}
    summary.extra = {"images": {"fetched": 2, "failed": 1, "top_reasons": [("http_404", 1)]},
                     "Per source": per_source_markdown([("a|b", 2, 1)]), "summary_lines": ["one", "two"]}
    markdown = run_markdown(summary)
    no_python_reprs(markdown)
    tables = markdown_tables(markdown)
    assert tables["Reject reasons"] == [{"stage": "parse", "reason": "no front matter", "rejects": "3"},
                                        {"stage": "fetch", "reason": r"bad \| pipe newline", "rejects": "1"}]
    assert tables["Images"] == [{"measure": "fetched", "value": "2"}, {"measure": "failed", "value": "1"}]
    assert tables["Top reasons"] == [{"name": "http_404", "count": "1"}]
    assert tables["Per source"] == [{"source": r"a\|b", "new or updated": "2", "rejected": "1"}]
    assert "- feed-x: fetch: http_404" in markdown and "- one\n- two" in markdown
    assert tables[f"newsetl run {summary.run_id}: completed".replace(summary.run_id, f"`{summary.run_id}`")][0][
        "duration (s)"] == "2.5"


def test_images_artifact_is_markdown_tables():
    """The `newsetl-images` artifact (tasks/images.py publishes ImageSummary.markdown())."""
    from collections import Counter

    from newsetl.images.summary import ImageSummary

    summary = ImageSummary(referenced=6, fetched=2, failed=3, skipped=1, reasons=Counter({"http_404": 2, "timeout": 1}))
    markdown = summary.markdown()
    no_python_reprs(markdown)
    tables = markdown_tables(markdown)
    outcomes = {row["outcome"]: row["URLs"] for row in tables["Images"]}
    assert (outcomes["fetched"], outcomes["failed"], outcomes["skipped"]) == ("2", "3", "1")
    assert tables["Top failure reasons"] == [{"reason": "http_404", "URLs": "2"}, {"reason": "timeout", "URLs": "1"}]


def test_feed_fetch_phase_is_logged_with_counts(httpserver, tmp_path):
    """The remote step's phase line (flows/remote.py) reaches the run's logger with the step's counts, and the
    CLI's phase handler (the one `progress_bar` installs) picks out exactly the phase lines, in order."""
    import logging

    from tests.feeds_server import FeedSite
    from tests.helpers import make_config

    from newsetl.cli.output import _PhaseLines
    from newsetl.flows.ingest import ingest

    site = FeedSite(httpserver)
    config = make_config(tmp_path, tmp_path / "wh.duckdb", site.sources(),
                         http={"allow_hosts": site.allow_hosts(), "retries": 1, "backoff": 0.01})
    lines: list[str] = []
    handler = _PhaseLines(lines.append)
    logging.getLogger("prefect.flow_runs").addHandler(handler)
    try:
        summary = ingest(config)
    finally:
        logging.getLogger("prefect.flow_runs").removeHandler(handler)
    fetch = [line for line in lines if line.startswith("fetch: ")]
    assert len(fetch) == 1 and re.fullmatch(
        rf"fetch: (\d+) URLs of (\d+) sources, {summary['discovered']} items, {summary['new']} new, "
        rf"0 updated, {summary['rejected']} rejected", fetch[0]), lines
    assert [line.split(":")[0] for line in lines] == ["discover", "load", "fetch", "images", "analytics"]
