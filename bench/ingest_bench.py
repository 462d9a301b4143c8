"""Ingest benchmark: N posts generated from the real ones, through the whole Prefect flow (images off).

Prints posts/s for the whole flow (Prefect start-up and load included), for a plain loop that only parses
with BeautifulSoup, the load step's seconds, the no-op rerun's time as a share of the first run, and peak
memory. Targets on a 2-core machine, 20,000 posts: flow >= 300 posts/s, load <= 5 s, rerun <= 10 %,
peak memory < 1.5 GB.

`--compare-runners` times read+parse+clean alone (no load) as whole flow runs on the thread runner and
the process runner, in one process; target: processes >= 1.6x threads on 2 cores.

    .venv/bin/python bench/ingest_bench.py --posts 20000
    .venv/bin/python bench/ingest_bench.py --posts 20000 --runner process
    .venv/bin/python bench/ingest_bench.py --posts 20000 --compare-runners
"""

from __future__ import annotations

import argparse
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

TEMPLATES = ROOT / "tests" / "fixtures" / "posts"
TITLE_RE = re.compile(r"^title: .*$", re.M)
DATE_RE = re.compile(r"^date: .*$", re.M)
IMG_RE = re.compile(r"(https?://[^\"' ]+?\.(?:png|jpg|jpeg|gif))")


def generate(out: Path, count: int, seed: int = 7) -> list[Path]:
    """Write `count` posts built from the real ones: varied titles, dates, image URLs, nested folders."""
    rng = random.Random(seed)
    templates = [p.read_text(encoding="utf-8") for p in sorted(TEMPLATES.rglob("*.md"))]
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
        _, front, body = text.split("---", 2)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
