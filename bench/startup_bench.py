"""Start-up benchmark (issue 15): the no-op rerun's wall time from the shell, against the first run's, with its timeline.

A no-op rerun of `newsetl ingest PATH --no-images` reads nothing (every post's stat is the recorded one), so
its wall time is start-up, the flow's fixed Prefect calls, listing the files and shut-down. This bench:

1. generates N posts (as bench/ingest_bench.py does) and runs the first ingest with this tree's code;
2. runs the no-op rerun alternately with a baseline commit's code (`--baseline`, exported with `git archive`)
   and with this tree's code, `--rounds` times each, each on its own copy of the first run's warehouse, so
   the machine's load hits both alike; then, with `--running-server`, the same reruns (baseline and this
   tree) against a Prefect API that is already running (`PREFECT_API_URL`: no server start at all);
3. prints one line per figure (medians), the no-op wall as a share of the first run's wall, and the timeline
   of this tree's last rerun (`NEWSETL_TIMELINE` stamps: imports, API ready, flow start, phases, exit, and
   the private API server's own "server: ..." stamps).

    .venv/bin/python bench/startup_bench.py --posts 20000 [--rounds 3] [--baseline REF] [--running-server]
    .venv/bin/python bench/startup_bench.py --posts-dir DIR --warehouse FILE [--first-wall S]  # a kept corpus

Every process talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest_bench import generate  # noqa: E402  (bench/ingest_bench.py)
from measure import run_summary  # noqa: E402  (bench/measure.py)

BASELINE = "46f8a9b"  # main before this work on start-up (session 4)


def export_tree(ref: str, into: Path) -> Path:
    """The repository at `ref` as a plain folder that `python -m newsetl.cli` runs from (cwd first on sys.path)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    for folder in ("flows", "tasks", "warehouse"):  # mapped into the newsetl package, as pyproject does
        (into / "newsetl" / folder).symlink_to(into / folder, target_is_directory=True)
    return into


def ingest(tree: Path, posts: Path, warehouse: Path, api_url: str | None = None) -> dict:
    """One `newsetl ingest` run from `tree`, as from a shell: wall seconds, the run's own seconds, timeline."""
    stamps_file = warehouse.with_suffix(".timeline")
    stamps_file.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    if (tree / "newsetl" / "runtime" / "timeline.py").exists():  # older trees refuse an unknown NEWSETL_ variable
        env["NEWSETL_TIMELINE"] = str(stamps_file)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    command = [sys.executable, "-m", "newsetl.cli", "ingest", str(posts), "--no-images", "--warehouse",
               str(warehouse), "--log-format", "json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    run = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.time() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and the API server it waited for
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary, flow = run_summary(run.stderr)
    if not summary:
        raise SystemExit(f"newsetl ingest failed in {tree} (exit {run.returncode}):\n{run.stderr[-3000:]}")
    stamps = []  # the command's and its private API server's ("server: ..."), one line each, merged in time order
    if stamps_file.exists():
        for line in stamps_file.read_text().splitlines():
            stamps += [(name, at - started) for name, at in json.loads(line)["stamps"]]
        stamps.sort(key=lambda stamp: stamp[1])
    return {"wall": wall, "cpu": cpu, "flow": flow, "summary": summary, "stamps": stamps + [("process exited", wall)]}


def timeline(stamps: list[tuple[str, float]]) -> str:
    lines, previous = [], 0.0
    for name, at in stamps:
        lines.append(f"  {at:6.2f} s  (+{at - previous:5.2f})  {name}")
        previous = at
    return "\n".join(lines)


def load() -> str:
    return "load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20000, help="posts to generate (default 20000)")
    parser.add_argument("--posts-dir", type=Path, help="reuse these posts instead of generating")
    parser.add_argument("--warehouse", type=Path, help="with --posts-dir: a warehouse that already holds them "
                                                       "(copied; the first run is then not timed)")
    parser.add_argument("--first-wall", type=float, help="with --warehouse: the first run's wall seconds, "
                                                          "measured elsewhere (for the share)")
    parser.add_argument("--rounds", type=int, default=3, help="no-op reruns per variant, alternating (default 3)")
    parser.add_argument("--baseline", default=BASELINE, help=f"git ref to compare with (default {BASELINE})")
    parser.add_argument("--running-server", action="store_true",
                        help="also time the rerun against an already running Prefect API (PREFECT_API_URL)")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the code to time (default: this repository)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="newsetl-startup-"))
    try:
        base_tree = export_tree(args.baseline, work / "baseline")
        first = None
        if args.posts_dir and args.warehouse:
            posts = args.posts_dir
            shutil.copy(args.warehouse, work / "first.duckdb")
            if args.first_wall:
                first = {"wall": args.first_wall}
        else:
            posts = args.posts_dir or work / "posts"
            if not args.posts_dir:
                generate(posts, args.posts)
            print(f"first run ({load()})", flush=True)
            first = ingest(args.tree, posts, work / "first.duckdb")
            print(f"first run: {first['summary'].get('new')} new, wall {first['wall']:.1f} s "
                  f"(run {first['flow']} s)", flush=True)
        variants = {"baseline": base_tree, "this tree": args.tree}
        for name in variants:  # each variant reruns on its own copy (a newer tree may migrate it)
            shutil.copy(work / "first.duckdb", work / f"{name.replace(' ', '-')}.duckdb")
        results: dict[str, list[dict]] = {name: [] for name in variants}
        api = None
        if args.running_server:
            from newsetl.runtime.prefect_server import PrivateApi

            api = PrivateApi()
            api.start()
            api.wait_ready(180)
            results["baseline, running server"] = []
            results["this tree, running server"] = []
        print(f"no-op reruns, alternating ({load()})", flush=True)
        for _ in range(args.rounds):
            for name, tree in variants.items():
                results[name].append(ingest(tree, posts, work / f"{name.replace(' ', '-')}.duckdb"))
            if api is not None:
                results["baseline, running server"].append(
                    ingest(base_tree, posts, work / "baseline.duckdb", api_url=api.api_url))
                results["this tree, running server"].append(
                    ingest(args.tree, posts, work / "this-tree.duckdb", api_url=api.api_url))
        if api is not None:
            api.stop()
        print(f"after the reruns: {load()}")
        for name, runs in results.items():
            walls = [r["wall"] for r in runs]
            unchanged = {r["summary"].get("unchanged") for r in runs}
            share = f" = {100 * statistics.median(walls) / first['wall']:.1f} % of the first run's wall" if first else ""
            print(f"no-op rerun, {name}: wall median {statistics.median(walls):.2f} s{share}, best {min(walls):.2f} s "
                  f"(runs {', '.join(f'{w:.2f}' for w in walls)}; run itself median "
                  f"{statistics.median(r['flow'] or 0 for r in runs):.1f} s; CPU of the command and its API server "
                  f"median {statistics.median(r['cpu'] for r in runs):.2f} s; unchanged {sorted(unchanged)})")
        base, new = (statistics.median(r["wall"] for r in results[n]) for n in variants)
        base_cpu, new_cpu = (statistics.median(r["cpu"] for r in results[n]) for n in variants)
        print(f"no-op CPU seconds, this tree vs baseline: {new_cpu / base_cpu:.2f}x (less sensitive to the "
              f"machine's load than the wall time)")
        print(f"no-op wall, this tree vs baseline {args.baseline}: {new / base:.2f}x "
              f"[target: no-op wall <= 10 % of the first run's; aim <= 3 s on 20k posts]")
        if api is not None:
            base, new = (statistics.median(r["wall"] for r in results[f"{n}, running server"]) for n in variants)
            print(f"no-op wall against the running server, this tree vs baseline: {new / base:.2f}x")
        print("timeline of this tree's last no-op rerun (seconds from the shell's start):")
        print(timeline(results["this tree"][-1]["stamps"]))
        if api is not None:
            print("timeline of the last rerun against the running server:")
            print(timeline(results["this tree, running server"][-1]["stamps"]))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
