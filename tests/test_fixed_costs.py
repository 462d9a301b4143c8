"""Fixed costs of a run (issue 15): a run with nothing to prepare starts no worker process; listing on strings."""

from __future__ import annotations

import os
import random
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

from newsetl.config import HexoDirSource, config_from_dict
from newsetl.flows.ingest import ingest
from newsetl.flows.runners import with_runner
from newsetl.posts.discover import ChangedFiles, FileStat, list_sources
from newsetl.runtime import worker_pool

ROOT = Path(__file__).resolve().parent.parent


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
    (root / "link.md").symlink_to(root / "a.md")  # read as its target, with the target's stat
    files = list_sources([(HexoDirSource(name="s", path=root), root)]).files
    assert [(f.locator, f.path) for f in files] == [(n, root / n) for n in ("a.md", "b.md", "c.md")] + [
        ("link.md", root / "a.md")]
    assert [f.stat.inode for f in files] == [os.stat(root / n).st_ino for n in ("a.md", "b.md", "c.md", "a.md")]
    files = files[:3]

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


def _tricky_urls(count: int) -> list[str]:
    """Seeded image references near the key form: case, ports, users, IPv6, fragments, queries, whitespace,
    control and non-ASCII characters, relative and scheme-less references."""
    rng = random.Random(15)
    heads = ["http://", "https://", "HTTP://", "Https://", "//", "", "ftp://", "data:image/png,", "http:/", " https://"]
    hosts = ["img.example.com", "IMG.Example.com", "a-b.c", "127.0.0.1", "[::1]", "h:8080", "u:p@h", "h.", "-h",
             "ex\u00e4mple.com", "", "h..x", "xn--bcher-kva.ch", "h:", "h:99999", "[::1", "例子.中国", "h%41"]
    parts = ["/", "/a/b.png", "?", "?x=1", "#f", "/p?", "/p??", "/p?q#", "\t", "\n", " ", "\x00", "\x7f", "\u3000",
             "\u00a0", "/\u56fe.jpg", "/%E5%9B%BE", "/a b", "\\", "/[x]", "@", ":", "/..", "/./", "/~x", "&", ";"]
    urls = []
    for _ in range(count):
        url = rng.choice(heads) + rng.choice(hosts) + "".join(rng.choice(parts) for _ in range(rng.randint(0, 4)))
        urls.append(url + rng.choice(["", "", " ", "\n", "?"]))
    return urls


def test_the_key_form_shortcut_gives_what_urlsplit_gives() -> None:
    """`normalize`'s shortcut for URLs already in key form equals its general (urlsplit) path, on the real
    posts' image URLs and 20,000 seeded tricky references, with and without an article URL."""
    from newsetl.images.urls import _KEY_FORM, _normalize, normalize

    real = set()
    for path in (ROOT / "tests" / "fixtures").glob("**/*.md"):
        real.update(re.findall(r"""(?:src|headimg|thumbnail)\s*[=:]\s*["']?([^"'\s>]+)""",
                               path.read_text("utf-8", "replace")))
    assert len(real) > 100
    urls = sorted(real) + _tricky_urls(20000)
    shortcut = 0
    for url in urls:
        for article in (None, "https://news.example.com/a/b.html", "http://x.org"):
            assert normalize(url, article) == _normalize((url or "").strip(), url, article), (url, article)
        shortcut += _KEY_FORM.fullmatch(url.strip()) is not None
    assert shortcut > 1000  # the shortcut is really taken, on real URLs too
    assert normalize("https://img.example.com") == normalize("https://img.example.com/")
    assert normalize("https://h/p?").key == "https://h/p"


def test_the_private_api_stops_gracefully_and_at_once() -> None:
    """SIGTERM wakes the private server's main loop at once; it still shuts down the graceful way (its
    lifespan shutdown runs, then uvicorn re-raises the SIGTERM it caught: exit by SIGTERM, not a kill)."""
    import signal
    import urllib.request

    from newsetl.runtime.prefect_server import PrivateApi

    api = PrivateApi()
    api.start()
    try:
        api.wait_ready(180)
        with urllib.request.urlopen(f"{api.api_url}/admin/version", timeout=30) as response:
            assert response.status == 200
        time.sleep(1.0)  # SETTLE_SECONDS: a younger server waits for Prefect's services to settle first
        process = api.process
        started = time.monotonic()
        api.stop()
        took = time.monotonic() - started
    finally:
        api.stop()
    assert process.returncode == -signal.SIGTERM  # not killed after the 5 s grace
    assert took < 4, took  # uvicorn's own stop took 0.26-0.33 s on a quiet machine, this one 0.03-0.07 s


def test_images_are_registered_in_chunks_with_the_same_rows(tmp_path: Path, posts_dir: Path, monkeypatch) -> None:
    """register_images keys the article_images rows CHUNK_ROWS at a time (memory flat in corpus size): the
    article_images and image_fetches rows equal those of one chunk holding them all."""
    import duckdb

    import newsetl.images.register as register

    config = config_from_dict({"warehouse": str(tmp_path / "wh.duckdb"), "images": {"enabled": False},
                               "reporting": {"enabled": False}, "runner": {"kind": "threads"},
                               "sources": [{"name": "posts", "type": "hexo_dir", "path": str(posts_dir)}]},
                              base_dir=tmp_path)
    with_runner(ingest, config)(config)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    # The same (article, URL) twice in some articles (another role or position): each pair is keyed once, also
    # when its rows fall on both sides of a chunk's edge.
    con.execute("INSERT INTO article_images SELECT * REPLACE (position + 1000 AS position) FROM article_images "
                "WHERE hash(url) % 3 = 0")
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)

    def registered(chunk: int) -> tuple[int, list, list]:
        con.execute("UPDATE article_images SET fetch_url = NULL, sha256 = NULL")  # as before the first run's step
        con.execute("DELETE FROM image_fetches")
        monkeypatch.setattr(register, "CHUNK_ROWS", chunk)
        added = register.register_images(con, run_id="r", now=now)
        return (added, con.execute("SELECT * FROM article_images ORDER BY ALL").fetchall(),
                con.execute("SELECT * FROM image_fetches ORDER BY ALL").fetchall())

    whole, chunked, single = registered(10**9), registered(7), registered(1)
    duplicated = con.execute("SELECT count(*) FROM (SELECT article_id, url FROM article_images "
                             "GROUP BY ALL HAVING count(*) > 1)").fetchone()[0]
    con.close()
    assert whole[0] == len(whole[2]) == 50 and len(whole[1]) > 7 * 5  # many chunks of 7
    assert duplicated > 5
    assert chunked == whole and single == whole
    assert all(row[7] is not None for row in chunked[1])  # every row keyed (fetch_url)


def test_a_private_api_run_and_its_no_op_rerun_are_recorded_in_prefect(tmp_path: Path) -> None:
    """The `newsetl` program starts its private API first thing (before its own imports), Prefect's server
    answers from the routers reordered for a flow run, and the first run and its no-op rerun are both real
    flow runs: flow run, task runs, logs and the summary artifact in Prefect's database (a fresh PREFECT_HOME),
    ingest_runs rows in the warehouse tied to them."""
    import json
    import sqlite3
    import subprocess
    import sys

    import duckdb

    home, warehouse = tmp_path / "prefect-home", tmp_path / "wh.duckdb"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), NEWSETL_TIMELINE=str(tmp_path / "timeline.jsonl"))
    posts = ROOT / "tests" / "fixtures" / "posts"
    for _ in range(2):
        (tmp_path / "timeline.jsonl").unlink(missing_ok=True)
        run = subprocess.run([sys.executable, "-m", "newsetl.cli", "ingest", str(posts), "--no-images", "--warehouse",
                              str(warehouse)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
        assert run.returncode == 0, run.stderr
        lines = [json.loads(line) for line in (tmp_path / "timeline.jsonl").read_text().splitlines()]
        server, command = ([name for name, _ in line["stamps"]] for line in lines)  # the server's line comes first
        assert server == ["server: started", "server: imported", "server: app built", "server: serving",
                          "server: stopped"]
        assert command[:2] == ["api server started", "cli imported"]  # started before the CLI's own imports
        stamps = dict(stamp for line in lines for stamp in line["stamps"])
        assert stamps["server: serving"] <= stamps["api ready"] < stamps["flow started"]
        assert stamps["server: stopped"] <= stamps["api stopped"]

    # Its block-registration memo is its own: a test harness's server (another database) overwriting Prefect's
    # shared memo no longer makes the next private API register every block type again.
    assert sorted(p.name for p in home.glob("memo_store*.toml")) == ["memo_store.newsetl-private-api.toml"]
    con = duckdb.connect(str(warehouse), read_only=True)
    runs = con.execute("SELECT flow_run_id, status, new, updated, unchanged FROM ingest_runs "
                       "ORDER BY started_at").fetchall()
    con.close()
    files = len(list(posts.rglob("*.md")))
    assert [(status, new, updated, unchanged) for _, status, new, updated, unchanged in runs] == [
        ("completed", files, 0, 0), ("completed", 0, 0, files)]
    db = sqlite3.connect(home / "prefect.db")
    try:
        for flow_run_id, *_ in runs:
            flow, state = db.execute("SELECT f.name, r.state_type FROM flow_run r JOIN flow f ON f.id = r.flow_id "
                                     "WHERE r.id = ?", (flow_run_id,)).fetchone()
            assert (flow, state) == ("ingest", "COMPLETED")
            tasks = db.execute("SELECT name, state_type FROM task_run WHERE flow_run_id = ?", (flow_run_id,)).fetchall()
            assert {name.rsplit("-", 1)[0] for name, _ in tasks} >= {"discover", "record"}
            assert {state for _, state in tasks} == {"COMPLETED"}
            messages = [m for (m,) in db.execute("SELECT message FROM log WHERE flow_run_id = ?", (flow_run_id,))]
            assert any(m.startswith("discover: ") for m in messages) and any(" completed: " in m for m in messages)
            assert db.execute("SELECT key FROM artifact WHERE flow_run_id = ?", (flow_run_id,)).fetchall() == [
                ("ingest-run-summary",)]
    finally:
        db.close()


def test_the_routers_a_flow_run_calls_come_first_and_none_is_lost() -> None:
    import prefect.server.api as api
    from prefect.server.api.server import API_ROUTERS

    from newsetl.runtime.prefect_server import FIRST_ROUTERS, _routers_in_call_order

    ordered = _routers_in_call_order(API_ROUTERS, api)
    assert [router.prefix for router in ordered[:len(FIRST_ROUTERS)]] == [
        "/admin", "/flows", "/flow_runs", "/logs", "/artifacts", "/csrf-token", "/events", "/task_runs",
        "/flow_run_states", "/task_run_states"]
    assert sorted(map(id, ordered)) == sorted(map(id, API_ROUTERS))  # each router once, none added or lost
    rest = [router for router in API_ROUTERS if router not in ordered[:len(FIRST_ROUTERS)]]
    assert list(ordered[len(FIRST_ROUTERS):]) == rest  # the others keep Prefect's order
    prefixes = [router.prefix for router in API_ROUTERS if router.prefix]  # no router's paths inside another's
    assert not [(a, b) for a in prefixes for b in prefixes if a != b and b.startswith(a + "/")]


def test_only_the_program_running_flows_starts_its_api_early(monkeypatch) -> None:
    import sys

    from newsetl.cli import early

    def args(argv: list[str], orig: list[str]) -> list[str] | None:
        monkeypatch.setattr(sys, "argv", argv)
        monkeypatch.setattr(sys, "orig_argv", orig)
        return early.program_args()

    python = sys.executable
    assert args(["-m", "ingest", "p"], [python, "-X", "importtime", "-m", "newsetl.cli", "ingest", "p"]) == [
        "ingest", "p"]
    assert args(["/venv/bin/newsetl", "images"], [python, "/venv/bin/newsetl", "images"]) == ["images"]
    assert args(["-m", "ingest"], [python, "-m", "newsetl.cli.other", "ingest"]) is None
    assert args(["/venv/bin/pytest", "-q"], [python, "/venv/bin/pytest", "-q"]) is None
    started = []
    monkeypatch.setattr("newsetl.runtime.prefect_server.start_private_api", lambda: started.append(1) or object())
    for argv in (["newsetl", "query", "SELECT 1"], ["newsetl", "ingest", "--help"], ["newsetl", "runs", "-h"],
                 ["newsetl"], ["pytest", "ingest"]):
        monkeypatch.setattr(sys, "argv", argv)
        assert early.start_early() is False and started == [], argv
    for argv in (["newsetl", "ingest", "posts"], ["newsetl", "backfill"], ["newsetl", "reprocess"],
                 ["newsetl", "images"]):
        monkeypatch.setattr(sys, "argv", argv)
        assert early.start_early() is True
    assert len(started) == 4


def test_a_configured_api_keeps_heartbeats_but_the_run_does_not_wait_for_their_thread() -> None:
    """Against a configured API (here the test session's) flow runs still send heartbeats (their thread runs),
    but a run ends without joining that thread, which sleeps in 1 s steps; the thread then ends on its own.
    Outside `flow_settings` Prefect's behaviour is unchanged: the thread is joined (dead when the run returns)."""
    import threading

    import prefect.flow_engine
    from prefect import flow

    from newsetl.cli.main import flow_settings

    @flow
    def tiny() -> int:
        return 1

    def heartbeat_threads_after_a_run() -> list[threading.Thread]:
        before = set(threading.enumerate())
        assert tiny() == 1
        return [t for t in threading.enumerate() if t not in before and t.is_alive()
                and getattr((getattr(t, "_args", ()) or (None,))[0], "__name__", "") == "heartbeat_loop"]

    send = prefect.flow_engine._send_heartbeats
    left = []
    for _ in range(3):  # a thread may wake and end in the instant between the run's end and this check
        with flow_settings("ingest"):
            left = heartbeat_threads_after_a_run()
        if left:
            break
    assert len(left) == 1  # heartbeats were sent, and the run returned while their thread slept
    left[0].join(timeout=3)
    assert not left[0].is_alive()  # it saw the stop and ended within its second
    assert prefect.flow_engine._send_heartbeats is send  # restored after the command
    assert heartbeat_threads_after_a_run() == []  # Prefect's own way: joined before the run returns


def test_a_command_that_ends_early_does_not_wait_for_its_api_to_load(tmp_path: Path) -> None:
    """The program starts its private API first thing, so a usage error ends while the server is still
    importing Prefect; uvicorn had already caught SIGTERM by then and the server only stopped once its app was
    loaded (~2 s). Before its app exists the server now ends at once, by the signal."""
    import json
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["NEWSETL_TIMELINE"] = str(tmp_path / "timeline.jsonl")
    run = subprocess.run([sys.executable, "-m", "newsetl.cli", "ingest", "--no-such-option"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.startswith("newsetl: error: unrecognized arguments")
    lines = [json.loads(line) for line in (tmp_path / "timeline.jsonl").read_text().splitlines()]
    stamps = dict(lines[-1]["stamps"])  # the command's; a server killed by the signal writes none
    assert "api server started" in stamps and "server: imported" not in {n for line in lines for n, _ in line["stamps"]}
    assert stamps["api stopped"] - stamps["api stop"] < 1.0  # was 2.1-2.5 s: the server's imports


def test_the_private_api_stops_only_after_its_services_took_their_messages() -> None:
    """Before Prefect's services stop (their readers are cancelled), the server waits until its in-memory
    topics hold no message: the command's last events (its last task run) are then recorded, not dropped.
    Prefect's own in-memory broker, a real subscription and a reader that takes its message late."""
    import asyncio

    from prefect.server.utilities.messaging import memory

    from newsetl.runtime.prefect_server import _messages_taken

    async def scenario() -> tuple[float, int, float, float]:
        topic = memory.Topic.by_name("newsetl-test-events")
        subscription = topic.subscribe()
        try:
            await topic.publish(memory.MemoryMessage(data=b"last event", attributes={}))
            loop = asyncio.get_running_loop()

            async def reader() -> None:
                await asyncio.sleep(0.3)
                await subscription.get()

            task = asyncio.create_task(reader())
            started = loop.time()
            await _messages_taken(5.0)
            waited, left = loop.time() - started, subscription._queue.qsize()
            await task
            started = loop.time()
            await _messages_taken(5.0)  # nothing pending: no wait
            idle = loop.time() - started
            await topic.publish(memory.MemoryMessage(data=b"never read", attributes={}))
            started = loop.time()
            await _messages_taken(0.2)  # bounded
            return waited, left, idle, loop.time() - started
        finally:
            topic.unsubscribe(subscription)

    waited, left, idle, bounded = asyncio.run(scenario())
    assert left == 0 and 0.25 <= waited < 4
    assert idle < 0.2
    assert 0.2 <= bounded < 1.5
