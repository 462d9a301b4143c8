"""CLI commands for recurring runs: `serve` (scheduled deployments), `backfill` and `reprocess`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from newsetl.config import DEFAULT_CONFIG_NAME, Config
from newsetl.errors import UsageError


def _print(summary: dict, config: Config, seconds: float) -> None:
    print(f"{summary['status']} (run {summary['run_id']}, {seconds:.1f} s): {summary['discovered']} selected, "
          f"{summary['updated']} reloaded, {summary['new']} new, {summary['rejected']} rejected")
    for key in ("backfill", "not reprocessed"):
        if key in summary["extra"]:
            print(f"  {key}: {summary['extra'][key]}")
    for reason, count in summary.get("reject_reasons", {}).items():
        print(f"  rejected {count} x {reason}")
    print(f"warehouse: {config.resolve(config.warehouse)}")


def _run_backfill(config: Config, selection) -> int:
    from newsetl.flows.backfill import backfill
    from newsetl.flows.runners import with_runner
    from newsetl.runtime.lock import warehouse_lock

    started = time.perf_counter()
    with warehouse_lock(config.resolve(config.warehouse), config.lock_wait):
        summary = with_runner(backfill, config)(config, selection)
    _print(summary, config, time.perf_counter() - started)
    return 1 if summary["status"] == "failed" else 0


def cmd_backfill(args: argparse.Namespace, config: Config) -> int:
    from newsetl.flows.backfill import Selection

    if args.until and args.since and args.until < args.since:
        raise UsageError(f"--until {args.until} is before --since {args.since}")
    if args.source and args.source not in config.source_names():
        raise UsageError(f"unknown source {args.source!r} (configured: {', '.join(config.source_names()) or 'none'})")
    return _run_backfill(config, Selection(since=args.since, until=args.until, source=args.source))


def cmd_reprocess(args: argparse.Namespace, config: Config) -> int:
    from newsetl.flows.backfill import Selection
    from newsetl.rules import load_rules

    if not args.rules_changed:
        raise UsageError("say what to reprocess: --rules-changed")
    version = str(load_rules(config.resolve(config.rules) if config.rules else None).version)
    return _run_backfill(config, Selection(source=args.source, rules_older_than=version))


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from newsetl.flows.deployments import serve_deployments

    path = args.config or Path(DEFAULT_CONFIG_NAME)
    if not path.exists():
        raise UsageError(f"serve needs a config file with a `deployments:` section (no {path})")
    serve_deployments(config, path, limit=args.limit)
    return 0


def _day(value: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add serve, backfill and reprocess to the `newsetl` subcommands."""
    serve = sub.add_parser("serve", parents=[common], help="run the config's scheduled deployments (Prefect serve)")
    serve.add_argument("--limit", type=int, default=None, help="at most this many runs at once")
    serve.set_defaults(handler=cmd_serve)

    backfill = sub.add_parser("backfill", parents=[common],
                              help="re-parse and reload already-seen posts published in a date window")
    backfill.add_argument("--since", type=_day, required=True, metavar="DATE", help="first day (YYYY-MM-DD)")
    backfill.add_argument("--until", type=_day, metavar="DATE", help="last day, inclusive (default: today)")
    backfill.add_argument("--source", metavar="NAME", help="only this source")
    backfill.set_defaults(handler=cmd_backfill)

    reprocess = sub.add_parser("reprocess", parents=[common], help="reprocess articles cleaned with older rules")
    reprocess.add_argument("--rules-changed", action="store_true",
                           help="articles whose rules_version is not the current site_rules.yaml version")
    reprocess.add_argument("--source", metavar="NAME", help="only this source")
    reprocess.set_defaults(handler=cmd_reprocess)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the `newsetl` command")
