"""Read-ahead benchmark: a first `newsetl ingest` with and without the flow's read-ahead thread, cold page cache.

The ingest flow reads and hashes the next batch of post files in a thread (`newsetl/runtime/prefetch.py`) while
it waits for prepared batches and loads them. On a warm page cache that overlap is worth little (the reads are
memory copies); on a cold one the flow process would otherwise wait on the disk between batches. This bench
exports this tree twice (the second with the read-ahead replaced by a plain iterator), then runs the first
ingest of the same posts with each, alternating, dropping the page cache before every run (needs root:
`/proc/sys/vm/drop_caches`; `--warm` skips that). It prints the median wall of each and their ratio.

    sudo .venv/bin/python bench/read_ahead_bench.py --posts-dir DIR [--rounds 2] [--warm]
    .venv/bin/python bench/read_ahead_bench.py --posts 20000          # generates the posts first
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import generate  # noqa: E402  (bench/ingest_bench.py)
from startup_bench import export_tree, ingest, load  # noqa: E402  (bench/startup_bench.py)

READ_AHEAD = 'ahead = Prefetch(input_batches(changed, config.batch_size), ahead=READ_AHEAD_BATCHES, name="read-ahead")'
PLAIN = ("class _Plain:  # the same batches, read by the loop that submits them\n"
         "        def __init__(self, batches): self.batches = iter(batches)\n"
         "        def __iter__(self): return self.batches\n"
         "        def close(self): pass\n"
         "    ahead = _Plain(input_batches(changed, config.batch_size))")


def without_read_ahead(tree: Path) -> Path:
    """`tree` with the ingest flow's read-ahead replaced by a plain iterator over the same batches."""
    flow = tree / "flows" / "ingest.py"
    source = flow.read_text()
    if READ_AHEAD not in source:
        raise SystemExit("flows/ingest.py no longer builds its read-ahead as this bench expects: update the bench")
    flow.write_text(source.replace(READ_AHEAD, PLAIN))
    return tree


def drop_page_cache() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20000, help="posts to generate (without --posts-dir)")
    parser.add_argument("--posts-dir", type=Path, help="ingest these posts instead of generating")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warm", action="store_true", help="keep the page cache (no root needed)")
    args = parser.parse_args()
    if not args.warm:
        try:
            drop_page_cache()
        except OSError as exc:
            raise SystemExit(f"cannot drop the page cache ({exc}): run as root, or pass --warm")
    work = Path(tempfile.mkdtemp(prefix="newsetl-read-ahead-"))
    try:
        posts = args.posts_dir
        if posts is None:
            posts = work / "posts"
            generate(posts, args.posts)
        trees = {"read-ahead": export_tree("HEAD", work / "read-ahead"),
                 "plain": without_read_ahead(export_tree("HEAD", work / "plain"))}
        walls: dict[str, list[float]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for name in order:
                warehouse = work / f"{name}-{round_}.duckdb"
                if not args.warm:
                    drop_page_cache()
                run = ingest(trees[name], posts, warehouse)
                walls[name].append(run["wall"])
                print(f"round {round_ + 1}, {name}: wall {run['wall']:.1f} s, flow {run['flow']:.1f} s ({load()})",
                      flush=True)
                for leftover in work.glob(f"{name}-{round_}.duckdb*"):
                    leftover.unlink()
        cache = "warm" if args.warm else "cold"
        with_, without = statistics.median(walls["read-ahead"]), statistics.median(walls["plain"])
        print(f"first run, {cache} page cache, median wall: read-ahead {with_:.1f} s, plain {without:.1f} s "
              f"= {without / with_:.2f}x the read-ahead's time without it")
        if not args.warm:  # leave the posts cached for whoever runs next
            for path in posts.rglob("*"):
                if path.is_file():
                    path.read_bytes()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
