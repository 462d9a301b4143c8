"""Markdown posts/s beside HTML posts/s: read -> parse -> clean of the same number of posts, in one process.

The HTML posts are copies of the generator's real posts (tests/fixtures/posts); the Markdown posts are
copies of the real Hexo posts (tests/fixtures/hexo/*/source/_posts), tag plugins and all. Both go through
`newsetl.posts.pipeline.prepare_batch` (what a worker runs), in batches of `--batch-size`, interleaved over
`--repeat` rounds; the best round of each counts. Also prints characters of body per second, since the two
sets differ in size.

    .venv/bin/python bench/markdown_bench.py --posts 2000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HTML_TEMPLATES = ROOT / "tests" / "fixtures" / "posts"
MARKDOWN_SITES = ROOT / "tests" / "fixtures" / "hexo"


def copies(templates: list[Path], out: Path, count: int) -> int:
    """Write `count` posts cycling over `templates` (a numbered folder per round); returns body characters."""
    chars = 0
    for i in range(count):
        template = templates[i % len(templates)]
        folder = out / f"{i // len(templates):05d}"
        folder.mkdir(parents=True, exist_ok=True)
        text = template.read_text(encoding="utf-8")
        (folder / f"{i % len(templates):03d}-{template.name}").write_text(text, encoding="utf-8")
        chars += len(text)
    return chars


def time_source(name: str, folder: Path, body_format: str, batch_size: int) -> tuple[float, int, int]:
    """Seconds for read+parse+clean of every post under `folder`, articles made, rejects."""
    from zoneinfo import ZoneInfo

    from newsetl.config import HexoDirSource
    from newsetl.models import Batch
    from newsetl.posts.discover import discover_sources
    from newsetl.posts.options import PostOptions
    from newsetl.posts.pipeline import prepare_batch
    from newsetl.rules import load_rules

    source = HexoDirSource(name=name, path=folder)
    refs = discover_sources([(source, folder)], {}).todo
    options = {name: PostOptions(zone=ZoneInfo("UTC"), body_format=body_format, root=folder)}
    rules = load_rules()
    started = time.perf_counter()
    made = rejected = 0
    for i in range(0, len(refs), batch_size):
        out = prepare_batch(Batch(refs[i:i + batch_size]), ["utf-8"], options, rules)
        made += len(out.items)
        rejected += len(out.rejects)
    return time.perf_counter() - started, made, rejected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000, help="posts of each kind")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    html_templates = sorted(HTML_TEMPLATES.rglob("*.md"))
    markdown_templates = sorted(MARKDOWN_SITES.glob("*/source/_posts/*.md"))
    work = Path(tempfile.mkdtemp(prefix="newsetl-mdbench-"))
    try:
        html_chars = copies(html_templates, work / "html", args.posts)
        markdown_chars = copies(markdown_templates, work / "markdown", args.posts)
        best = {"html": float("inf"), "markdown": float("inf")}
        counts = {}
        for _ in range(args.repeat):
            for kind in ("html", "markdown"):
                seconds, made, rejected = time_source(kind, work / kind, "auto", args.batch_size)
                best[kind] = min(best[kind], seconds)
                counts[kind] = (made, rejected)
        print(f"{args.posts} posts of each kind, batches of {args.batch_size}, best of {args.repeat} rounds "
              f"(read + parse + clean, one process, no Prefect, no load)")
        for kind, chars in (("html", html_chars), ("markdown", markdown_chars)):
            made, rejected = counts[kind]
            print(f"  {kind:8s} {args.posts / best[kind]:8.0f} posts/s  {chars / best[kind] / 1e6:6.2f} M chars/s  "
                  f"({made} articles, {rejected} rejects, {chars / args.posts:.0f} chars/post)")
        print(f"  markdown/html ratio: {best['html'] / best['markdown']:.2f}x posts/s, "
              f"{(markdown_chars / best['markdown']) / (html_chars / best['html']):.2f}x chars/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
