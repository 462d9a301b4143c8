"""Ingest benchmark: N posts generated from the real ones, through `newsetl ingest` as a user runs it.

By default (issue 15) it times the defaults path: the real `newsetl ingest PATH --no-images` CLI in a child
process (wall time from the shell: Prefect start-up, load, analytics and the final checkpoint included),
against a plain single-process bs4+lxml loop over the same posts, run right before and right after. Then a
no-op rerun, and optionally 100k posts (`--scale 100000`) and a thread-runner run whose tables must be equal
(`--check-equal`). One line per figure, each with its target:

    .venv/bin/python bench/ingest_bench.py --posts 20000 [--check-equal] [--scale 100000] [--analytics-cost]
        [--running-server]

`--running-server` adds a first run and its no-op rerun with a real `prefect server start` running, which the
command finds on its port (no PREFECT_API_URL), as it would find one on port 4200.

`--tuned` runs the older tuned path in this process (analytics off unless `--analytics`, runner by hand);
`--compare-runners` times read+parse+clean alone (no load) on the thread and process runners:

    .venv/bin/python bench/ingest_bench.py --posts 20000 --tuned --runner process
    .venv/bin/python bench/ingest_bench.py --posts 20000 --compare-runners
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import newsetl  # noqa: E402,F401  (Prefect defaults before Prefect loads)
from measure import run_sampled, run_summary, running_prefect_server  # noqa: E402  (bench/measure.py)

TEMPLATES = ROOT / "tests" / "fixtures" / "posts"
TITLE_RE = re.compile(r"^title: .*$", re.M)
DATE_RE = re.compile(r"^date: .*$", re.M)
IMG_RE = re.compile(r"(https?://[^\"' ]+?\.(?:png|jpg|jpeg|gif))")


def generate(out: Path, count: int, seed: int = 7, templates_from: list[Path] | None = None) -> list[Path]:
    """Write `count` posts built from the real ones (the `*.md` under `templates_from`, default TEMPLATES):
    varied titles, dates, image URLs, nested folders."""
    rng = random.Random(seed)
    templates = [p.read_text(encoding="utf-8") for root in templates_from or [TEMPLATES]
                 for p in sorted(root.rglob("*.md")) if p.name != "README.md"]
    base = datetime(2020, 1, 1, tzinfo=timezone.utc)
    paths = []
    for i in range(count):
        text = templates[i % len(templates)]
        moment = base + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
        title = f"第{i}号 样本文章 “{rng.choice(['财经', '科技', '体育', '社会'])}” {rng.randrange(10**6)}"
        text = TITLE_RE.sub(f"title: '{title}'", text, count=1)
        text = DATE_RE.sub("date: " + (moment.strftime("%a, %d %b %Y %H:%M:%S GMT") if i % 3
                                       else moment.strftime("%Y-%m-%d %H:%M:%S")), text, count=1)
        text = IMG_RE.sub(lambda m: f"{m.group(1)}?v={i}", text)
        folder = out / f"分类 {i % 20}" / f"子目录 {i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{title}.md"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def bs4_loop(paths: list[Path]) -> float:
    """posts/s for a plain loop: read, split front matter with PyYAML (C), parse the body with bs4+lxml."""
    import yaml
    from bs4 import BeautifulSoup

    start = time.perf_counter()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if text.startswith("---"):
            _, front, body = text.split("---", 2)
        else:  # Hexo also reads front matter with no opening `---`
            front, _, body = text.partition("\n---")
        yaml.load(front, Loader=yaml.CSafeLoader)
        BeautifulSoup(body, "lxml").get_text(" ", strip=True)
    return len(paths) / (time.perf_counter() - start)


def compare_runners(paths_root: Path, count: int, batch_size: int, with_dask: bool = False) -> None:
    """read -> parse -> clean (no load) on each runner, in one run: posts/s and the process/thread ratio."""
    from zoneinfo import ZoneInfo

    from prefect import flow, task

    from newsetl.flows.ingest import input_batches
    from newsetl.flows.runners import task_runner_for
    from newsetl.config import HexoDirSource, RunnerConfig
    from newsetl.rules import load_rules
    from newsetl.posts.discover import discover_sources
    from newsetl.tasks.posts import prepare_task
    from newsetl.posts.pipeline import prepare_batch

    source = HexoDirSource(name="bench", path=paths_root)
    refs = discover_sources([(source, paths_root)], {}).todo
    rules, zones = load_rules(), {"bench": ZoneInfo("UTC")}

    def prepare_all() -> float:
        started = time.perf_counter()
        futures = [prepare_task.submit(b, ["utf-8"], zones, rules) for b in input_batches(refs, batch_size)]
        assert sum(len(f.result().items) for f in futures) == count
        return time.perf_counter() - started

    started = time.perf_counter()
    for batch in input_batches(refs, batch_size):
        prepare_batch(batch, ["utf-8"], zones, rules)
    print(f"read+parse+clean, plain loop without Prefect: {count / (time.perf_counter() - started):.0f} posts/s")
    # Start Prefect's ephemeral API and run one task before timing any runner: the first task run in a
    # process pays a one-off Prefect set-up (about 2.5 s here) that no runner should be charged with.
    warm_up_task = task(name="bench-warm-up-task")(lambda: None)
    flow(name="bench-warm-up")(lambda: warm_up_task())()
    rates = {}
    runs = [("threads", 1), ("threads", None), ("processes", None), ("processes", None)]
    if with_dask:
        runs.append(("dask", None))
    for kind, workers in runs:
        runner_flow = flow(name=f"bench-prepare-{kind}")(prepare_all)
        runner_flow = runner_flow.with_options(task_runner=task_runner_for(RunnerConfig(kind=kind, workers=workers)))
        started = time.perf_counter()
        batches_seconds = runner_flow()
        seconds = time.perf_counter() - started  # the whole flow run: runner start-up and shut-down included
        label = f"{kind} (workers {workers or 'default'})"
        if kind == "processes":
            label += ", cold pool" if "processes" not in rates else ", warm pool (second run in this process)"
        print(f"read+parse+clean only, {label}: flow run {seconds:.1f} s = {count / seconds:.0f} posts/s "
              f"(first submit to last batch {batches_seconds:.1f} s)")
        rates.setdefault(kind, count / seconds)
    print(f"process/thread ratio for parse+clean, cold pool, whole flow runs: "
          f"{rates['processes'] / rates['threads']:.2f}x [target >= 1.6x]")


def tuned_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="the tuned path, in this process")
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--runner", choices=["thread", "process", "dask"], default="thread")
    parser.add_argument("--bs4-sample", type=int, default=2000, help="posts timed in the plain bs4 loop")
    parser.add_argument("--keep", action="store_true", help="keep the generated posts and warehouse")
    parser.add_argument("--workers", type=int, default=None, help="task runner workers (default: config's)")
    parser.add_argument("--compare-runners", action="store_true",
                        help="only time read+parse+clean (no load) on the thread and process runners "
                             "(and a Dask LocalCluster with --runner dask)")
    parser.add_argument("--analytics", action="store_true",
                        help="also run the reporting step (dedup, keywords, search index) inside the flow")
    args = parser.parse_args(argv)

    from newsetl.flows.ingest import ingest as ingest_flow
    from newsetl.flows.runners import with_runner
    from newsetl.config import config_from_dict

    work = Path(tempfile.mkdtemp(prefix="newsetl-bench-"))
    try:
        start = time.perf_counter()
        paths = generate(work / "posts", args.posts)
        print(f"generated {len(paths)} posts in {time.perf_counter() - start:.1f} s under {work}")
        if args.compare_runners:
            compare_runners(work / "posts", args.posts, args.batch_size, args.runner == "dask")
            return
        runner = {"thread": "threads", "process": "processes", "dask": "dask"}[args.runner]
        config = config_from_dict({
            "warehouse": str(work / "bench.duckdb"), "batch_size": args.batch_size,
            "images": {"enabled": False}, "runner": {"kind": runner, "workers": args.workers},
            "reporting": {"enabled": args.analytics},
            "sources": [{"type": "hexo_dir", "name": "bench", "path": str(work / "posts")}],
        }, base_dir=work)
        ingest = with_runner(ingest_flow, config)  # the task runner from config.runner

        start = time.perf_counter()
        first = ingest(config)
        first_seconds = time.perf_counter() - start
        start = time.perf_counter()
        rerun = ingest(config)
        rerun_seconds = time.perf_counter() - start
        loop_rate = bs4_loop(paths[: args.bs4_sample])
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        flow_rate = args.posts / first_seconds
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in first["stage_seconds"].items())
        print(f"runner: {args.runner}; first run: {first['new']} new, {first['rejected']} rejected")
        print(f"whole flow (Prefect start-up + load): {first_seconds:.1f} s = {flow_rate:.0f} posts/s "
              f"[target >= 300]")
        print(f"  stages: {stages}")
        print(f"  load step: {first['stage_seconds']['load']:.2f} s [target <= 5 s]")
        parse_clean = first["stage_seconds"]["read+parse+clean+load"] - first["stage_seconds"]["load"]
        print(f"  read+parse+clean (runner work, load excluded): {parse_clean:.1f} s = "
              f"{args.posts / parse_clean:.0f} posts/s")
        print(f"plain bs4+lxml parse loop: {loop_rate:.0f} posts/s (flow is {flow_rate / loop_rate:.2f}x)")
        print(f"no-op rerun: {rerun_seconds:.1f} s = {100 * rerun_seconds / first_seconds:.1f} % of the first run "
              f"({rerun['unchanged']} unchanged) [target <= 10 %]")
        print(f"peak memory (this process): {peak_mb:.0f} MB [target < 1500 MB]")
        if args.runner == "process":
            import psutil

            from newsetl.flows.runners import default_workers
            from newsetl.runtime.worker_pool import worker_pool

            workers = worker_pool(args.workers or default_workers())._processes.values()
            rss = [psutil.Process(p.pid).memory_info().rss / 2**20 for p in workers]
            print(f"worker processes now: {len(rss)} x {max(rss):.0f} MB RSS (largest)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------------------ the defaults path (issue 15)
CONTENT_SQL = {  # every column a run writes except its run id and clock times
    "articles": "SELECT * EXCLUDE (first_seen_at, updated_at, run_id) FROM articles ORDER BY article_id",
    "paragraphs": "SELECT * FROM paragraphs ORDER BY article_id, position",
    "article_images": "SELECT * FROM article_images ORDER BY ALL",
    "rejects": "SELECT * EXCLUDE (run_id, seen_at) FROM rejects ORDER BY ALL",
    "source_files": "SELECT source, locator, file_hash, article_id, status FROM source_files ORDER BY ALL",
}


def cli_ingest(work: Path, posts: Path, warehouse: Path, *extra: str, server_port: int | None = None) -> dict:
    """Run the real `newsetl ingest` in a child process, as from a shell; wall time, summary and peak RSS.

    No Prefect API is configured: the command starts its private one, or with `server_port` finds the Prefect
    server running there (newsetl/runtime/local_server.py) as it finds `prefect server start` on port 4200.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_SERVER_API_PORT")}
    env["NEWSETL_FIND_PREFECT_SERVER"] = "1" if server_port else "0"
    if server_port:
        env["PREFECT_SERVER_API_PORT"] = str(server_port)
    stamps = work / "timeline.jsonl"  # the command's start-up stamps (newsetl/runtime/timeline.py)
    stamps.unlink(missing_ok=True)
    env["NEWSETL_TIMELINE"] = str(stamps)
    command = [sys.executable, "-m", "newsetl.cli", "ingest", str(posts), "--no-images",
               "--warehouse", str(warehouse), "--log-format", "json", *extra]
    started = time.time()
    run = run_sampled(command, work, env)
    out, err, wall = run.out, run.err, run.wall
    summary, flow = run_summary(err)
    if summary:
        summary["flow_seconds"] = flow
    if not summary:
        raise SystemExit(f"newsetl ingest failed (exit {run.returncode}):\n{out}\n{err[-3000:]}")
    marks = sorted((at - started, name) for line in (stamps.read_text().splitlines() if stamps.exists() else [])
                   for name, at in json.loads(line)["stamps"])  # the command's and its private API server's
    return {"wall": wall, "summary": summary, "flow": summary["flow_seconds"] or wall,
            "peak_main_mb": run.peak_main_mb, "peak_tree_mb": run.peak_tree_mb, "stamps": marks,
            "flow_started": next((at for at, name in marks if name == "flow started"), None)}


def tables_equal(a: Path, b: Path) -> list[str]:
    """The tables of `CONTENT_SQL` that differ between two warehouses (empty: all equal)."""
    import duckdb

    differ = []
    with duckdb.connect(str(a), read_only=True) as con_a, duckdb.connect(str(b), read_only=True) as con_b:
        for table, sql in CONTENT_SQL.items():
            if con_a.execute(sql).fetchall() != con_b.execute(sql).fetchall():
                differ.append(table)
    return differ


def analytics_cost(work: Path, first: dict, rounds: int = 2) -> str:
    """The marginal cost of the analytics step: first runs of the same posts into fresh warehouses with
    `reporting.enabled: false`, alternating with first runs with analytics on (`first` is the first of those),
    `rounds` of each; the mean flow time without is subtracted from the mean with."""
    config = work / "noreport.yaml"
    config.write_text("reporting: {enabled: false}\n", encoding="utf-8")
    on, off = [first["flow"]], []
    for i in range(rounds):
        for warehouse in (work / "noreport.duckdb", work / "report.duckdb"):
            for path in (warehouse, Path(f"{warehouse}.wal")):
                path.unlink(missing_ok=True)
        off.append(cli_ingest(work, work / "posts", work / "noreport.duckdb", "--config", str(config))["flow"])
        if i < rounds - 1:
            on.append(cli_ingest(work, work / "posts", work / "report.duckdb")["flow"])
    with_, without = sum(on) / len(on), sum(off) / len(off)
    cost = with_ - without
    return (f"analytics marginal cost: {cost:.1f} s = {100 * cost / with_:.1f} % of the first run's flow "
            f"(mean flow {with_:.1f} s with analytics, {without:.1f} s without; runs alternating, with: "
            f"{', '.join(f'{x:.1f}' for x in on)} s, without: {', '.join(f'{x:.1f}' for x in off)} s) "
            f"[target <= 15 %]")


def no_op_reruns(work: Path, warehouse: Path, rounds: int, server_port: int | None = None) -> dict:
    """`rounds` no-op reruns into `warehouse`: the one with the median wall time, and every wall time."""
    runs = [cli_ingest(work, work / "posts", warehouse, server_port=server_port) for _ in range(rounds)]
    for run in runs:
        if run["summary"].get("new") or run["summary"].get("updated"):
            raise SystemExit(f"a no-op rerun was not one: {run['summary']}")
    median = sorted(runs, key=lambda run: run["wall"])[len(runs) // 2]
    return {**median, "walls": [run["wall"] for run in runs]}


def running_server_pair(work: Path, first: dict, rerun: dict, rounds: int) -> str:
    """A first run and its no-op reruns with a real `prefect server start` running (found, not configured), beside
    the private-API ones (`first`, `rerun`) timed just before."""
    with running_prefect_server(work / "prefect-server-home") as port:
        found = cli_ingest(work, work / "posts", work / "found.duckdb", server_port=port)
        noop = no_op_reruns(work, work / "found.duckdb", rounds, server_port=port)
    return (f"with a Prefect server running (`prefect server start`, found on its port): first run wall "
            f"{found['wall']:.1f} s (flow {found['flow']:.1f} s), no-op rerun wall {noop['wall']:.1f} s = "
            f"{100 * noop['wall'] / found['wall']:.1f} % of it [target <= 10 %] (median of "
            f"{', '.join(f'{w:.1f}' for w in noop['walls'])} s; flow {noop['flow']:.2f} s = "
            f"{100 * noop['flow'] / found['flow']:.1f} %); with the private API above: "
            f"{rerun['wall']:.1f} s of {first['wall']:.1f} s")


def defaults_main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="newsetl-bench-"))
    try:
        started = time.perf_counter()
        paths = generate(work / "posts", args.posts, templates_from=args.templates)
        print(f"generated {len(paths)} posts in {time.perf_counter() - started:.1f} s under {work}", flush=True)
        sample = paths[:: max(1, len(paths) // args.bs4_sample)]
        before = bs4_loop(sample)
        first = cli_ingest(work, work / "posts", work / "wh.duckdb")
        after = bs4_loop(sample)
        rerun = no_op_reruns(work, work / "wh.duckdb", args.noop_rounds)
        loop = (before + after) / 2
        s, stages = first["summary"], first["summary"].get("stage_seconds", {})
        rate = args.posts / first["wall"]
        print(f"defaults path: `newsetl ingest PATH --no-images` (runner processes, analytics on), "
              f"{s.get('new')} new, {s.get('rejected')} rejected")
        print(f"plain bs4+lxml loop, single process, {len(sample)} of the same posts: {before:.0f} posts/s before, "
              f"{after:.0f} after")
        print(f"whole default flow, wall from the shell: {first['wall']:.1f} s = {rate:.0f} posts/s = "
              f"{rate / loop:.2f}x the plain loop [target >= 1.5x]  (flow {first['flow']:.1f} s)")
        print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
        if first["flow_started"] is not None:  # where the wall time outside the flow went
            print(f"  outside the flow: {first['flow_started']:.1f} s before it started (imports, Prefect API), "
                  f"{first['wall'] - first['flow_started'] - first['flow']:.1f} s after it ended")
            if first["flow_started"] > 10:  # seen a few times, not reproduced on demand: where it waited
                print("  its start-up stamps: " + ", ".join(f"{name} {at:.2f}" for at, name in first["stamps"]
                                                            if at <= first["flow_started"]))
        analytics = stages.get("analytics", 0.0)
        print(f"analytics step: {analytics:.1f} s = {100 * analytics / first['flow']:.1f} % of the first run's flow "
              f"[target <= 15 %]")
        print(f"peak RSS, first run: newsetl process {first['peak_main_mb']:.0f} MB [target <= 1024 MB]; "
              f"with its children (API server, workers) {first['peak_tree_mb']:.0f} MB")
        rs = rerun["summary"]
        print(f"no-op rerun: flow {rerun['flow']:.2f} s = {100 * rerun['flow'] / first['flow']:.1f} % of the first "
              f"run's flow [target <= 3 %]; wall {rerun['wall']:.1f} s = {100 * rerun['wall'] / first['wall']:.1f} % "
              f"[target <= 10 %] (median of {', '.join(f'{w:.1f}' for w in rerun['walls'])} s; "
              f"{rs.get('unchanged')} unchanged; analytics "
              f"{rs.get('stage_seconds', {}).get('analytics', 0):.2f} s)")
        if args.running_server:
            print(running_server_pair(work, first, rerun, args.noop_rounds))
        if args.analytics_cost:
            print(analytics_cost(work, first))
        if args.check_equal:
            config = work / "threads.yaml"
            config.write_text("runner: {kind: threads, workers: 1}\n", encoding="utf-8")
            threads = cli_ingest(work, work / "posts", work / "threads.duckdb", "--config", str(config))
            differ = tables_equal(work / "wh.duckdb", work / "threads.duckdb")
            print(f"tables equal to the thread runner's (one worker, the old default): "
                  f"{'yes' if not differ else 'NO: ' + ', '.join(differ)} ({', '.join(CONTENT_SQL)}); "
                  f"thread runner wall {threads['wall']:.1f} s")
        if args.scale:
            big = work / f"posts{args.scale}"
            generate(big, args.scale, templates_from=args.templates)
            scaled = cli_ingest(work, big, work / "big.duckdb")
            print(f"scale: {args.scale} posts in {scaled['wall']:.1f} s = {scaled['wall'] / first['wall']:.2f}x the "
                  f"{args.posts} wall [target <= 5.5x for 100k vs 20k]; peak RSS "
                  f"{scaled['peak_main_mb']:.0f} MB = {scaled['peak_main_mb'] / first['peak_main_mb']:.2f}x "
                  f"[target <= 1.1x]")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    if "--tuned" in sys.argv or "--compare-runners" in sys.argv:
        tuned_main([a for a in sys.argv[1:] if a != "--tuned"])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--bs4-sample", type=int, default=4000, help="posts timed in the plain bs4 loop")
    parser.add_argument("--check-equal", action="store_true",
                        help="also ingest with the thread runner and compare the warehouse tables")
    parser.add_argument("--scale", type=int, default=0, metavar="N", help="also ingest N posts (e.g. 100000)")
    parser.add_argument("--analytics-cost", action="store_true",
                        help="also ingest with reporting off: the analytics' marginal cost (one more first run)")
    parser.add_argument("--noop-rounds", type=int, default=3, help="no-op reruns timed (the median is reported)")
    parser.add_argument("--running-server", action="store_true",
                        help="also a first run and its no-op rerun with `prefect server start` running (found)")
    parser.add_argument("--templates", type=Path, nargs="+", default=None, metavar="DIR",
                        help="real posts to build the corpus from (every *.md under them; default "
                             "tests/fixtures/posts, 15 posts). E.g. tests/fixtures/posts tests/fixtures/generator "
                             "tests/fixtures/hexo: 70 bodies, HTML and Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the generated posts and warehouses")
    parser.add_argument("--tuned", action="store_true", help="the tuned path in this process (see --help there)")
    parser.add_argument("--compare-runners", action="store_true", help="see the tuned path")
    defaults_main(parser.parse_args())


if __name__ == "__main__":
    main()
