"""CLI subcommand of the images part: `newsetl images [--retry-failed] [--since WHEN]`."""

from __future__ import annotations

import argparse
import time

from newsetl.config import Config


def cmd_images(args: argparse.Namespace, config: Config) -> int:
    from newsetl.flows.images import images
    from newsetl.cli.output import progress_bar
    from newsetl.runtime.lock import warehouse_lock
    from newsetl.images.plan import parse_since

    since = parse_since(args.since)
    started = time.perf_counter()
    with progress_bar("images"), warehouse_lock(config.resolve(config.warehouse), config.lock_wait):
        result = images(config, retry_failed=args.retry_failed, since=since)
    print(f"images run {result['run_id']} ({time.perf_counter() - started:.1f} s): {result['line'].removeprefix('images: ')}")
    if result["left_alone"]:
        print(f"  {result['left_alone']} URLs left alone after failing before: `newsetl images --retry-failed` tries them")
    print(f"store: {config.resolve(config.images.store)}")
    return 0


def add_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    images = sub.add_parser(
        "images", parents=[common], help="fetch, verify and store the images articles reference",
        description="Fetch new, pending and stale image URLs (and failed ones within images.max_attempts).",
    )
    images.add_argument("--retry-failed", action="store_true",
                        help="also retry URLs that failed max_attempts runs or were skipped by policy")
    images.add_argument("--since", metavar="WHEN",
                        help="only images of articles new or changed since WHEN: a date (2024-05-01), "
                             "a date-time, or an age (7d, 12h)")
    images.set_defaults(handler=cmd_images)
