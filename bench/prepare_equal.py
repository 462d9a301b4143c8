"""Is `prepare_batch` (read -> parse -> clean -> Arrow tables) byte for byte what an older commit made?

Runs the worker step of two checkouts, each in its own process (bench/tree.py), over the same folders of
posts, and compares every batch: the article keys, the rejects, the skipped count and the Arrow IPC bytes of
each column of the articles, paragraphs and article_images tables. Articles that differ are named with their
first differing column (`--no-rows`: only the columns, for big corpora). Sources are named as
`newsetl ingest PATH` names them (newsetl/posts/roots.py).

    git worktree add /tmp/wt-base 46f8a9b
    .venv/bin/python bench/prepare_equal.py --old /tmp/wt-base tests/fixtures/posts /work/shared/corpus/posts
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def _ipc(table) -> bytes:  # noqa: ANN001 - a pyarrow Table
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return sink.getvalue().to_pybytes()


def _column_digests(table) -> dict[str, str]:  # noqa: ANN001 - a pyarrow Table
    """sha256 of the Arrow IPC bytes of each column (type and values, byte for byte), by column name."""
    return {name: hashlib.sha256(_ipc(table.select([name]))).hexdigest() for name in table.column_names}


def _rows(table, key: str = "article_id") -> dict[str, list]:  # noqa: ANN001
    out: dict[str, list] = {}
    for row in table.to_pylist():
        out.setdefault(row[key], []).append(row)
    return out


def dump(tree: Path, paths: list[str], batch_size: int, out: Path, rows: bool = True) -> None:
    """Prepare the posts under `paths` with the code of `tree`; pickle what each batch came to into `out`."""
    from tree import use_tree

    use_tree(tree)
    from newsetl.config import Config
    from newsetl.models import Batch, InputRef
    from newsetl.posts.discover import file_digest, list_sources
    from newsetl.posts.limits import PostLimits
    from newsetl.posts.pipeline import prepare_batch
    from newsetl.posts.roots import sources_for_paths
    from newsetl.posts.sources import usable_options

    config = Config.model_validate({"warehouse": str(out.with_suffix(".duckdb"))})
    sources = sources_for_paths(paths, [], {}).sources
    zones, _ = usable_options(config, sources)
    listing = list_sources([(s, zones[s.name].root) for s in sources if s.name in zones])
    rules, limits = config.site_rules(), PostLimits.of(config.limits)
    refs = []
    for f in listing.files:
        data = f.path.read_bytes()
        refs.append(InputRef(f.source, "hexo_dir", f.locator, str(f.path),
                             file_digest(data, zones[f.source].fingerprint or ""), len(data), data=data))
    batches, seconds = [], 0.0
    for start in range(0, len(refs), batch_size):
        began = time.perf_counter()
        batch = prepare_batch(Batch(refs[start:start + batch_size]), config.encodings, zones, rules, limits)
        seconds += time.perf_counter() - began
        tables = batch.tables
        batches.append({
            "keys": [tuple(k) for k in batch.items],
            "rejects": [repr(r) for r in batch.rejects],
            "skipped": batch.skipped,
            "ipc": {name: _column_digests(getattr(tables, name)) for name in ("articles", "paragraphs", "images")},
            "rows": {name: _rows(getattr(tables, name)) for name in ("articles", "paragraphs", "images")}
            if rows else None,
        })
    out.write_bytes(pickle.dumps({"posts": len(refs), "seconds": seconds, "batches": batches}))


def _first_difference(old: list, new: list) -> str:
    if len(old) != len(new):
        return f"{len(old)} rows vs {len(new)}"
    for a, b in zip(old, new):
        for column in a:
            if a[column] != b.get(column):
                return f"{column}: {str(a[column])[:120]!r} vs {str(b.get(column))[:120]!r}"
    return "same values, different order or types"


notes: set[str] = set()


def compare(old: dict, new: dict) -> list[str]:
    """Differences between two dumps, one line each (empty: identical); columns that only the new code
    has are left out of the comparison and named in `notes`."""
    problems = []
    if old["posts"] != new["posts"] or len(old["batches"]) != len(new["batches"]):
        return [f"inputs differ: {old['posts']} vs {new['posts']} posts"]
    for number, (a, b) in enumerate(zip(old["batches"], new["batches"])):
        for field in ("keys", "rejects", "skipped"):
            if a[field] != b[field]:
                diff = [x for x in a[field] if x not in b[field]][:3] if field != "skipped" else a[field]
                problems.append(f"batch {number}: {field} differ (old only: {diff})")
        for name in ("articles", "paragraphs", "images"):
            added = set(b["ipc"][name]) - set(a["ipc"][name])
            if added:  # a column the old commit did not have: compare the columns both have, and say so
                notes.add(f"{name}: columns only in new, not compared: {', '.join(sorted(added))}")
            if set(a["ipc"][name]) - set(b["ipc"][name]):
                problems.append(f"batch {number}: {name}: columns missing in new")
            if all(a["ipc"][name][c] == b["ipc"][name][c] for c in a["ipc"][name] if c in b["ipc"][name]):
                continue
            if a["rows"] is None or b["rows"] is None:
                bad = [c for c in a["ipc"][name] if c in b["ipc"][name] and a["ipc"][name][c] != b["ipc"][name][c]]
                problems.append(f"batch {number}: {name}: columns differ: {', '.join(bad)} (run with rows to see)")
                continue
            rows_a, rows_b = a["rows"][name], b["rows"][name]
            if added:
                rows_b = {k: [{c: v for c, v in row.items() if c not in added} for row in rows]
                          for k, rows in rows_b.items()}
            bad = [k for k in rows_a.keys() | rows_b.keys() if rows_a.get(k) != rows_b.get(k)]
            if not bad:
                problems.append(f"batch {number}: {name} IPC bytes differ, rows equal")
            for key in sorted(bad)[:5]:
                problems.append(f"batch {number}: {name} of {key}: "
                                f"{_first_difference(rows_a.get(key, []), rows_b.get(key, []))}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="folders (or post files) as given to `newsetl ingest`")
    parser.add_argument("--old", default="/tmp/wt-base", help="checkout of the reference commit")
    parser.add_argument("--new", default=str(ROOT), help="checkout under test")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--no-rows", action="store_true",
                        help="compare column digests only (big corpora: rows of 20k articles do not fit)")
    parser.add_argument("--dump", help=argparse.SUPPRESS)  # internal: the tree a child process runs
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    paths = [str(Path(p).resolve()) for p in args.paths]
    if args.dump:
        dump(Path(args.dump), paths, args.batch, Path(args.out), rows=not args.no_rows)
        return 0
    with tempfile.TemporaryDirectory(prefix="prepare-equal-") as tmp:
        dumps = {}
        for label, tree in (("old", args.old), ("new", args.new)):
            out = Path(tmp) / f"{label}.pickle"
            subprocess.run([sys.executable, __file__, "--dump", tree, "--out", str(out), "--batch",
                            str(args.batch), *(["--no-rows"] if args.no_rows else []), *paths], check=True,
                           env={**os.environ, "PYTHONHASHSEED": "0"})  # str() of a YAML !!set: hash order
            dumps[label] = pickle.loads(out.read_bytes())
    old, new = dumps["old"], dumps["new"]
    problems = compare(old, new)
    articles = sum(len(b["keys"]) for b in new["batches"])
    rejects = sum(len(b["rejects"]) for b in new["batches"])
    print(f"{new['posts']} posts ({articles} articles, {rejects} rejects) in {len(new['batches'])} batches; "
          f"prepare {old['seconds']:.1f} s old, {new['seconds']:.1f} s new")
    for line in problems[:40]:
        print("DIFF", line)
    for line in sorted(notes):
        print("NOTE", line)
    print(("identical" + (" (in the columns both have)" if notes else "")) if not problems
          else f"DIFFERENT: {len(problems)} problems")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
