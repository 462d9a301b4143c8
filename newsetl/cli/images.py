"""CLI subcommand of the images part: `newsetl images [--retry-failed] [--since WHEN]`."""

from __future__ import annotations

import argparse
import time

from newsetl.config import Config
from newsetl.durations import MOMENT_HELP, moment_arg


def cmd_images(args: argparse.Namespace, config: Config) -> int:
    from newsetl.flows.images import images
    from newsetl.cli.output import flow_run_link, progress_bar
    from newsetl.runtime.lock import warehouse_lock
    from newsetl.cli.outcome import finish
    from newsetl.durations import parse_moment

    since = parse_moment(args.since) if args.since else None
    started = time.perf_counter()
    with progress_bar("images"), warehouse_lock(config.resolve(config.warehouse), config.lock_wait):
        result = images(config, retry_failed=args.retry_failed, since=since)
    lines = [f"images {result['status']} (run {result['run_id']}, {time.perf_counter() - started:.1f} s): "
             f"{result['line'].removeprefix('images: ')}"]
    if result["left_alone"]:
        lines.append(f"  {result['left_alone']} URLs left alone after failing before: "
                     "`newsetl images --retry-failed` tries them")
    lines.append(f"store: {config.resolve(config.images.store)}")
    if link := flow_run_link(result.get("flow_run_id")):
        lines.append(f"Prefect flow run: {link}")
    return finish("images", result["status"], lines, result)


def add_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    images = sub.add_parser(
        "images", parents=[common], help="fetch, verify and store the images articles reference",
        description="Fetch new, pending and stale image URLs (and failed ones within images.max_attempts).",
    )
    images.add_argument("--retry-failed", action="store_true",
                        help="also retry URLs that failed max_attempts runs or were skipped by policy")
    images.add_argument("--since", metavar="WHEN", type=moment_arg,
                        help=f"only images of articles new or changed since WHEN: {MOMENT_HELP} (UTC when naive)")
    images.set_defaults(handler=cmd_images)
