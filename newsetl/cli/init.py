"""`newsetl init [DIR]`: write a commented starter `newsetl.yaml` (and an empty `posts/` folder) that validates."""

from __future__ import annotations

import argparse
from pathlib import Path

from newsetl.config import DEFAULT_CONFIG_NAME
from newsetl.errors import UsageError

# Every active value is the default or a working example; every commented-out block (`#` directly before the
# YAML line) is valid when uncommented (tests/test_cli_conventions.py loads both).
STARTER = """\
# newsetl.yaml, written by `newsetl init`. Unknown keys are errors; omitted keys take their defaults.
# Relative paths are relative to this file's folder.
# Precedence: command-line flag > NEWSETL_* environment > this file > default. Every key can come from the
# environment: NEWSETL_WAREHOUSE=..., NEWSETL_TIMEZONE=Asia/Shanghai, NEWSETL_IMAGES__ENABLED=false
# (`__` goes one section down; lists as JSON: NEWSETL_ENCODINGS='["utf-8", "gb18030"]').

warehouse: data/newsetl.duckdb      # the DuckDB file (created on the first ingest)
timezone: UTC                       # zone for naive front-matter dates (`date: 2021-04-11 00:30:33`)
batch_size: 1000                    # posts per task run
encodings: [utf-8]                  # tried in order when reading post files
lock_wait: 600                      # seconds a run waits while another run writes the warehouse

sources:                            # what `newsetl ingest` reads when given no PATH
  - type: hexo_dir
    name: posts                     # part of every article id: keep it stable
    path: posts                     # a folder of post files, any depth (`newsetl init` created it)
    globs: ["**/*.md"]
    exclude: []
#  - type: feed                     # RSS/Atom feeds
#    name: my-feed
#    urls: [https://example.org/feed.xml]
#    categories: [news]
#  - type: post_urls                # post files fetched by URL
#    name: remote-posts
#    urls: [https://example.org/posts/a.md]

images:
  enabled: true                     # download, verify and store referenced images after each load
  store: data/images                # content-addressed store; stored paths are relative to it
  concurrency: 64
  per_host: 16
  block_private: true               # refuse loopback/private addresses unless listed in allow_hosts
  allow_hosts: []                   # e.g. [127.0.0.1, 10.0.0.0/8]

reporting:
  enabled: true                     # duplicate stories, keywords and the search index after each load

runner:
  kind: threads                     # threads | processes | dask

#deployments:                       # schedules for `newsetl serve` (needs a Prefect server)
#  - name: nightly
#    cron: "0 2 * * *"
#    timezone: UTC
#    sources: [posts]
"""


def cmd_init(args: argparse.Namespace, _config: object) -> int:
    from newsetl.cli.outcome import EXIT_OK, note

    folder: Path = args.dir
    target = folder / DEFAULT_CONFIG_NAME
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists; pass --force to overwrite it")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target.write_text(STARTER, encoding="utf-8")
        (folder / "posts").mkdir(exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    note(f"wrote {target}: put post files under {folder / 'posts'}, then run `newsetl ingest`", path=str(target))
    return EXIT_OK


def add_command(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser("init", help="write a commented starter newsetl.yaml",
                          description="Write DIR/newsetl.yaml (commented, valid as written) and DIR/posts/.")
    init.add_argument("dir", nargs="?", type=Path, default=Path("."), metavar="DIR",
                      help="folder to write newsetl.yaml into (default: the current folder)")
    init.add_argument("--force", action="store_true", help="overwrite an existing newsetl.yaml")
    init.add_argument("--log-format", choices=("text", "json"), default="text",
                      help="text (default), or json: messages as JSON objects on stderr")
    init.add_argument("-v", "--verbose", action="store_true", help="accepted for symmetry; init prints one line")
    init.set_defaults(handler=cmd_init, needs_config=False)
