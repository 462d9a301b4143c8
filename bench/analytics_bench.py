"""Analytics step, old code vs new, side by side: wall, CPU and peak RSS of a first refresh on the same warehouse.

Generates posts from the real ones (as ingest_bench does), ingests them once with `reporting.enabled: false`, then
runs the analytics refresh on fresh copies of that warehouse, alternating: the code of `--old` (a git revision,
exported with `git archive` and run from there) and this tree's code, inline and on a 2-process worker pool. Each
measurement is a child process (its own peak RSS, sampled every 20 ms). `--check-equal` compares the old and new
warehouses' analytics tables and BM25 scores (fts index in the old one, our index in the new one).

    .venv/bin/python bench/analytics_bench.py --posts 20000 --rounds 2 --check-equal
    .venv/bin/python bench/analytics_bench.py --posts 5000 --distinct-bodies   # no body shared by reposts
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench")]

CHILD = r"""
import json, pathlib, sys, threading, time
import psutil
mode, path = sys.argv[1], pathlib.Path(sys.argv[2])
from newsetl.config import ReportingConfig
from newsetl.reporting.analytics import refresh_analytics
from newsetl.warehouse.db import connect_writer, limit_memory
if mode == "pool":
    from newsetl.runtime.worker_pool import worker_pool
    worker_pool(2).submit(int).result()  # started, as the flow's process runner leaves it
proc, peak = psutil.Process(), [0]
def sample():
    while True:
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()
con = connect_writer(path)
limit_memory(con, "512MB")
start_rss = proc.memory_info().rss
wall, cpu = time.perf_counter(), time.process_time()
kwargs = {"parallel": False} if mode == "inline" else {}  # "old": the old code, which has no such argument
summary = refresh_analytics(con, ReportingConfig(), **kwargs)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
noop = time.perf_counter()
refresh_analytics(con, ReportingConfig(), **kwargs)
noop = time.perf_counter() - noop
close = time.perf_counter()
con.close()  # folds the write-ahead log into the file (the flow's writer does this at its end)
close = time.perf_counter() - close
print(json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak[0] / 2**20, "start_mb": start_rss / 2**20,
                  "noop": noop, "close": close, "segmented": summary.segmented,
                  "datasketch": "datasketch" in sys.modules}))
"""


def old_tree(revision: str, work: Path) -> Path:
    """The package of `revision` importable from a plain folder (the editable install maps these folders)."""
    tree = work / "old-code"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    for package in ("flows", "tasks", "warehouse"):
        (tree / "newsetl" / package).symlink_to(tree / package)
    return tree


def measure(mode: str, base: Path, target: Path, old: Path | None) -> dict:
    shutil.copy(base, target)
    env = dict(os.environ)
    if old is not None:
        env["PYTHONPATH"] = str(old)
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(target)],
                          capture_output=True, text=True, env=env, cwd=str(target.parent))
    if done.returncode:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


EQUAL_SQL = {
    "search_documents": "SELECT * FROM search_documents ORDER BY article_id",
    "article_tokens": "SELECT * FROM article_tokens ORDER BY article_id, term",
    "story_clusters": "SELECT * FROM story_clusters ORDER BY article_id",
    "article_minhash": "SELECT * FROM article_minhash ORDER BY article_id",
}
QUERIES = ["样本 文章", "财经", "科技 体育", "hexo", "的 是", "房地产 投资 下降", "第1号", "新能源 汽车 销量"]
SCORE_SQL = ("SELECT article_id, fts_main_search_documents.match_bm25(article_id, ?) AS s FROM search_documents "
             "WHERE s IS NOT NULL ORDER BY s DESC, article_id")


def check_equal(old_wh: Path, new_wh: Path) -> None:
    import duckdb
    from importlib import resources

    with duckdb.connect(str(old_wh), read_only=True) as a, duckdb.connect(str(new_wh), read_only=True) as b:
        for table, sql in EQUAL_SQL.items():
            rows = a.execute(sql).fetchall()
            print(f"  {table}: {len(rows)} rows, {'equal' if rows == b.execute(sql).fetchall() else 'DIFFERENT'}")
        fts = resources.files("duckdb_extension_fts").joinpath(
            "extensions", f"v{duckdb.__version__}", "fts.duckdb_extension")
        a.execute(f"INSTALL '{fts}'")
        a.execute("LOAD fts")
        for query in QUERIES:
            old_rows, new_rows = a.execute(SCORE_SQL, [query]).fetchall(), b.execute(SCORE_SQL, [query]).fetchall()
            diff = max((abs(x[1] - y[1]) for x, y in zip(old_rows, new_rows)), default=0.0)
            same = [r[0] for r in old_rows] == [r[0] for r in new_rows]
            print(f"  BM25 {query!r}: {len(old_rows)} hits (fts) / {len(new_rows)} (ours), same order: {same}, "
                  f"max score difference {diff:.1e}")


def main() -> None:
    from ingest_bench import cli_ingest, generate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--old", default="46f8a9b", help="git revision of the old code (default: before issue 15's "
                                                         "incremental index)")
    parser.add_argument("--modes", default="old,inline,pool")
    parser.add_argument("--check-equal", action="store_true")
    parser.add_argument("--distinct-bodies", action="store_true",
                        help="prefix each body with its article id: no repost shares a body (the generated posts "
                             "repeat 15 templates, so segmentation and MinHash are otherwise mostly cache hits)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsetl-analytics-bench-"))
    try:
        generate(work / "posts", args.posts)
        config = work / "noreport.yaml"
        config.write_text("reporting: {enabled: false}\n", encoding="utf-8")
        base = work / "base.duckdb"
        cli_ingest(work, work / "posts", base, "--config", str(config))
        if args.distinct_bodies:
            import duckdb

            with duckdb.connect(str(base)) as con:
                con.execute("UPDATE articles SET body_text = article_id || ' ' || body_text")
        old = old_tree(args.old, work)
        modes = args.modes.split(",")
        results: dict[str, list[dict]] = {m: [] for m in modes}
        for round_ in range(args.rounds):
            for mode in modes if round_ % 2 == 0 else modes[::-1]:  # alternate the order
                result = measure(mode, base, work / f"{mode}.duckdb", old if mode == "old" else None)
                results[mode].append(result)
                print(f"round {round_ + 1} {mode:6s}: wall {result['wall']:.2f} s, CPU of this process "
                      f"{result['cpu']:.2f} s, peak RSS {result['peak_mb']:.0f} MB (at start {result['start_mb']:.0f}),"
                      f" no-op rerun {result['noop']:.3f} s, close (checkpoint) {result['close']:.2f} s, datasketch imported "
                      f"here: {result['datasketch']}", flush=True)
        print(f"{args.posts} posts{' (distinct bodies)' if args.distinct_bodies else ''}, "
              f"{time.strftime('%H:%M UTC', time.gmtime())}, load average "
              f"{os.getloadavg()[0]:.1f}; best of {args.rounds}:")
        best = {m: min(r["wall"] for r in rs) for m, rs in results.items()}
        for mode in modes:
            ratio = f" = {best[mode] / best['old']:.2f}x old" if "old" in best else ""
            print(f"  {mode:6s} wall {best[mode]:.2f} s{ratio}; peak RSS "
                  f"{min(r['peak_mb'] for r in results[mode]):.0f} MB")
        if args.check_equal and "old" in modes:
            print("tables and scores, old vs new:")
            new_mode = next(m for m in modes if m != "old")
            check_equal(work / "old.duckdb", work / f"{new_mode}.duckdb")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    main()
