"""Hostile-corpus benchmark (issue 11): thousands of mutated real posts plus the nasties, through the real CLI.

Writes `--posts N` seeded mutations of tests/fixtures/posts (tests/hostile_posts.py: byte flips, truncation,
hostile YAML, encodings, control characters, deep nesting, huge lines) and the nasties from the issue:
a 'billion laughs' alias bomb, a 50 MB post, text nested 100,000 levels deep, `date: 2021-02-30`, a 3 MB
line of `<p>` tags, a symlink loop and a symlink out of the root. Then runs `newsetl ingest` in a child
process (default runner, images and analytics off), sampling the RSS of it and its children (Prefect's API,
worker processes), and prints wall time, peak RSS, the accounting line and the rejects by stage. A second
run over the unchanged corpus shows that nothing is redone.

    .venv/bin/python bench/hostile_bench.py --posts 3000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hostile_posts import alias_bomb, deep_html, mutants, real_posts, write_corpus  # noqa: E402
from measure import run_sampled  # noqa: E402  (bench/measure.py)


def nasties(posts: Path, outside: Path, seed: int) -> int:
    """The issue's worst cases, next to the mutants; how many inputs they add."""
    rng = random.Random(seed)
    name, data = real_posts()[0]
    folder = posts / "nasties"
    folder.mkdir(parents=True)
    (folder / "alias-bomb.md").write_bytes(alias_bomb(rng, data, levels=12))  # 9**12 leaves expanded
    with open(folder / "fifty-mb.md", "wb") as handle:  # real bytes, not a sparse file
        handle.write(data)
        chunk = ("<p>" + "长文本" * 10_000 + "</p>\n").encode()
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(chunk)
    (folder / "deep-100k.md").write_bytes(deep_html(rng, data, depth=100_000))
    (folder / "feb-30.md").write_bytes(data.replace(b"date: ", b"date: 2021-02-30\nwas: ", 1))
    (folder / "p-line-3mb.md").write_bytes(data + b"\n" + b"<p>" * 1_000_000 + b"\n")
    (folder / "loop.md").symlink_to(folder / "loop.md")
    outside.write_bytes(data)
    (folder / "outside.md").symlink_to(outside)
    return 7


def ingest(work: Path, config: Path) -> tuple[float, float, float]:
    """Run `newsetl ingest` in a child process: (wall seconds, peak RSS of it, peak RSS with its children), MB."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    command = [sys.executable, "-m", "newsetl.cli", "ingest", "--config", str(config), "--no-images"]
    run = run_sampled(command, work, env)
    if run.returncode not in (0,):
        print(f"newsetl ingest exited {run.returncode}:\n{run.out[-2000:]}\n{run.err[-3000:]}")
    return run.wall, run.peak_main_mb, run.peak_tree_mb


def report(warehouse: Path, wall: float, main_mb: float, tree_mb: float, label: str) -> None:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        status, discovered, new, updated, unchanged, rejected, skipped, seconds = con.execute(
            "SELECT status, discovered, new, updated, unchanged, rejected, skipped, "
            "epoch(finished_at) - epoch(started_at) FROM ingest_runs "
            "ORDER BY started_at DESC LIMIT 1").fetchone()
        stages = con.execute("SELECT stage, count(*) FROM rejects WHERE run_id = (SELECT run_id FROM ingest_runs "
                             "ORDER BY started_at DESC LIMIT 1) GROUP BY 1 ORDER BY 2 DESC").fetchall()
        reasons = con.execute("SELECT stage, regexp_replace(error, '[0-9][0-9.,]*', 'N', 'g') AS why, count(*) "
                              "FROM rejects WHERE run_id = (SELECT run_id FROM ingest_runs ORDER BY started_at "
                              "DESC LIMIT 1) GROUP BY ALL ORDER BY 3 DESC LIMIT 12").fetchall()
        nasty = con.execute("SELECT locator, stage, error FROM rejects WHERE locator LIKE 'nasties/%' "
                            "QUALIFY row_number() OVER (PARTITION BY locator ORDER BY seen_at DESC) = 1 "
                            "ORDER BY 1").fetchall()
        deep = con.execute("SELECT char_count, body_text LIKE '%深处的文字 deep text%之后的段落 after%' FROM articles "
                           "WHERE locator = 'nasties/deep-100k.md'").fetchall()
    balanced = discovered == new + updated + unchanged + rejected + skipped
    print(f"{label}: {wall:.1f} s wall ({seconds:.1f} s in the flow run, the rest is Prefect's API start-up), "
          f"peak RSS {main_mb:.0f} MB (newsetl) / {tree_mb:.0f} MB (with Prefect's API and workers), status {status}")
    print(f"  discovered {discovered} = new {new} + updated {updated} + unchanged {unchanged} + rejected {rejected}"
          f" + skipped {skipped}: {'exact' if balanced else 'DOES NOT ADD UP'}")
    print("  rejects by stage: " + ", ".join(f"{stage} {count}" for stage, count in stages))
    for stage, why, count in reasons:
        print(f"    {count:5d}  {stage}: {why[:110]}")
    if label == "first run":
        for locator, stage, error in nasty:
            print(f"  {locator}: {stage}: {error}")
        print(f"  nasties/deep-100k.md: " + (f"loaded, {deep[0][0]} characters, text below the 100,000 levels "
                                              f"{'kept' if deep[0][1] else 'LOST'}" if deep else "NOT LOADED"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=3000, help="mutated posts (default 3000)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--runner", choices=["threads", "processes"], default=None, help="default: the config's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsetl-hostile-") as tmp:
        work = Path(tmp)
        posts = work / "posts"
        started = time.perf_counter()
        count = write_corpus(posts, mutants(args.posts, args.seed)) + nasties(posts, work / "outside.md", args.seed)
        size = sum(p.stat().st_size for p in posts.rglob("*") if p.is_file() and not p.is_symlink())
        print(f"corpus: {count} inputs, {size / 2**20:.0f} MB, written in {time.perf_counter() - started:.1f} s")
        config = work / "newsetl.yaml"
        runner = f"runner: {{kind: {args.runner}}}\n" if args.runner else ""
        config.write_text(f"warehouse: {work / 'wh.duckdb'}\nimages: {{enabled: false}}\nreporting: {{enabled: false}}\n"
                          f"{runner}sources:\n  - {{type: hexo_dir, name: hostile, path: {posts}}}\n", encoding="utf-8")
        for label in ("first run", "rerun, nothing changed"):
            wall, main_mb, tree_mb = ingest(work, config)
            report(work / "wh.duckdb", wall, main_mb, tree_mb, label)


if __name__ == "__main__":
    main()
