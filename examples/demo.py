"""`make demo`: ingest the bundled examples into data/, fully offline, and show what was loaded.

Serves examples/images (port 8765, the URLs the example image post uses) and examples/feeds on 127.0.0.1,
writes ./newsetl.yaml (so every README command afterwards uses the demo's warehouse, image store and sources),
runs `newsetl ingest` with it, and prints a few warehouse queries. A ./newsetl.yaml that the demo did not write
is left alone: the demo's config then goes to data/demo.newsetl.yaml and the commands need `--config` with it.
The real posts' remote image hosts are unreachable offline: they show up as recorded failures.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsetl.cli import main as newsetl  # noqa: E402
from newsetl.runtime.devserver import StaticServer  # noqa: E402

MARKER = "# newsetl.yaml written by `make demo` (examples/demo.py); edit it or run `newsetl init` for a starter.\n"
QUERIES = {
    "articles by source": "SELECT source, count(*) AS articles, sum(image_count) AS images, "
                          "count(editor) AS with_editor, count(origin) AS with_origin "
                          "FROM articles GROUP BY source ORDER BY source",
    "latest articles": "SELECT strftime(published_at, '%Y-%m-%d %H:%M') AS published_utc, source, title, editor, "
                       "origin FROM articles ORDER BY published_at DESC LIMIT 5",
    "image downloads": "SELECT status, count(*) AS urls FROM image_fetches GROUP BY status ORDER BY status",
}


def _server(root: Path, port: int) -> StaticServer:
    try:
        return StaticServer(root, port=port)
    except OSError:  # port taken: any free port still works for feeds
        return StaticServer(root)


def config_path(workdir: Path) -> Path:
    """./newsetl.yaml unless a config the demo did not write is there; then data/demo.newsetl.yaml."""
    path = workdir / "newsetl.yaml"
    if not path.exists() or path.read_text(encoding="utf-8").startswith(MARKER):
        return path
    return workdir / "data" / "demo.newsetl.yaml"


def demo_config(config_dir: Path, examples: Path, feeds: StaticServer) -> dict:
    """The demo's settings; paths relative to the config's folder when the examples lie inside it."""

    def where(path: Path) -> str:
        try:
            return path.relative_to(config_dir).as_posix()
        except ValueError:
            return str(path)

    data = "data" if config_dir.name != "data" else "."
    return {
        "warehouse": f"{data}/newsetl.duckdb",
        "sources": [
            {"type": "hexo_dir", "name": "archive", "path": where(examples / "posts")},
            {"type": "hexo_dir", "name": "images-demo", "path": where(examples / "images" / "posts")},
            {"type": "feed", "name": "sina-feed", "categories": ["金融", "新浪财经", "新浪财经－国內"],
             "urls": [feeds.url("sina.rss.xml")]},
            {"type": "feed", "name": "36kr-feed", "categories": ["新媒体", "36kr", "资讯"],
             "urls": [feeds.url("36kr.atom.xml")]},
        ],
        # The SSRF guard opens only the two ports the demo serves, not the rest of 127.0.0.1 (Prefect's API ...).
        "images": {"enabled": True, "store": f"{data}/images", "allow_hosts": ["127.0.0.1:8765"],
                   "retries": 0, "connect_timeout": 3, "read_timeout": 5, "total_timeout": 10},
        "http": {"allow_hosts": [feeds.base_url.removeprefix("http://")]},
    }


def _shown(path: Path) -> str:
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def main(workdir: Path | None = None, queries: bool = True) -> int:
    """Run the demo in `workdir` (default: the repository); returns the ingest's exit code."""
    workdir = (workdir or ROOT).resolve()
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    path = config_path(workdir)
    examples = ROOT / "examples"
    with StaticServer(examples / "images", port=8765) as images, _server(examples / "feeds", 8766) as feeds:
        text = yaml.safe_dump(demo_config(path.parent, examples, feeds), allow_unicode=True, sort_keys=False)
        path.write_text(MARKER + text, encoding="utf-8")
        print(f"demo: serving example images at {images.base_url} and feeds at {feeds.base_url}")
        print(f"demo: config written to {_shown(path)}")
        code = newsetl(["ingest", "--config", str(path)])
    if code not in (0, 3) or not queries:
        return code
    for title, sql in QUERIES.items():
        print(f"\n{title}:")
        newsetl(["query", "--config", str(path), sql])
    hint = "" if path == workdir / "newsetl.yaml" else f" --config {_shown(path)}"
    print(f"\nTry: .venv/bin/newsetl query{hint} \"SELECT * FROM source_summary\"   (the README's commands "
          f"use {_shown(path)}{'' if hint else ' by default'})")
    return code


if __name__ == "__main__":
    sys.exit(main())
