"""`make demo`: ingest the bundled examples into data/, fully offline, and show what was loaded.

Serves examples/images (port 8765, the URLs the example image post uses) and examples/feeds on 127.0.0.1,
writes data/demo.newsetl.yaml, runs `newsetl ingest` with it, and prints a few warehouse queries.
The real posts' remote image hosts are unreachable offline: they show up as recorded failures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsetl.cli import main as newsetl  # noqa: E402
from newsetl.runtime.devserver import StaticServer  # noqa: E402

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


def main() -> int:
    data = ROOT / "data"
    data.mkdir(exist_ok=True)
    with StaticServer(ROOT / "examples" / "images", port=8765) as images, \
            _server(ROOT / "examples" / "feeds", 8766) as feeds:
        config = {
            "warehouse": str(data / "newsetl.duckdb"),
            "sources": [
                {"type": "hexo_dir", "name": "archive", "path": str(ROOT / "examples" / "posts")},
                {"type": "hexo_dir", "name": "images-demo", "path": str(ROOT / "examples" / "images" / "posts")},
                {"type": "feed", "name": "sina-feed", "categories": ["金融", "新浪财经", "新浪财经－国內"],
                 "urls": [feeds.url("sina.rss.xml")]},
                {"type": "feed", "name": "36kr-feed", "categories": ["新媒体", "36kr", "资讯"],
                 "urls": [feeds.url("36kr.atom.xml")]},
            ],
            # The SSRF guard opens only the two ports the demo serves, not the rest of 127.0.0.1 (Prefect's API ...).
            "images": {"enabled": True, "store": str(data / "images"), "allow_hosts": ["127.0.0.1:8765"],
                       "retries": 0, "connect_timeout": 3, "read_timeout": 5, "total_timeout": 10},
            "http": {"allow_hosts": [feeds.base_url.removeprefix("http://")]},
        }
        config_path = data / "demo.newsetl.yaml"
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
        print(f"demo: serving example images at {images.base_url} and feeds at {feeds.base_url}")
        code = newsetl(["ingest", "--config", str(config_path)])
    if code != 0:
        return code
    for title, sql in QUERIES.items():
        print(f"\n{title}:")
        newsetl(["query", "--config", str(config_path), sql])
    print(f"\nTry: .venv/bin/newsetl query --config {config_path.relative_to(ROOT)} \"SELECT * FROM source_summary\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
