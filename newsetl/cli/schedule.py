"""CLI commands for recurring runs: `serve` (scheduled deployments), `backfill` and `reprocess`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from newsetl.config import DEFAULT_CONFIG_NAME, Config
from newsetl.durations import MOMENT_HELP, moment_arg
from newsetl.errors import UsageError


def _lines(summary: dict, config: Config, seconds: float) -> list[str]:
    lines = [f"{summary['status']} (run {summary['run_id']}, {seconds:.1f} s): {summary['discovered']} selected, "
             f"{summary['updated']} reloaded, {summary['new']} new, {summary['rejected']} rejected"]
    for key in ("backfill", "not reprocessed"):
        if key in summary["extra"]:
            lines.append(f"  {key}: {summary['extra'][key]}")
    for reason, count in summary.get("reject_reasons", {}).items():
        lines.append(f"  rejected {count} x {reason}")
    lines.append(f"warehouse: {config.resolve(config.warehouse)}")
    from newsetl.cli.output import flow_run_link

    if link := flow_run_link(summary.get("flow_run_id")):
        lines.append(f"Prefect flow run: {link}")
    return lines


def _run_backfill(config: Config, selection, command: str) -> int:
    from newsetl.cli.outcome import finish
    from newsetl.flows.backfill import backfill
    from newsetl.flows.runners import with_runner
    from newsetl.runtime.lock import warehouse_lock

    started = time.perf_counter()
    with warehouse_lock(config.resolve(config.warehouse), config.lock_wait):
        summary = with_runner(backfill, config)(config, selection)
    return finish(command, summary["status"], _lines(summary, config, time.perf_counter() - started), summary)


def check_source(config: Config, name: str | None) -> None:
    """An unknown `--source` is a usage error (exit 2) that lists the configured ones."""
    if name and name not in config.source_names():
        raise UsageError(f"unknown source {name!r} (configured: {', '.join(config.source_names()) or 'none'})")


def cmd_backfill(args: argparse.Namespace, config: Config) -> int:
    from newsetl.config import check_zone
    from newsetl.durations import day_of, parse_moment
    from newsetl.flows.backfill import Selection

    zone = check_zone(config.timezone)  # backfill selects whole days in the config's time zone
    since = day_of(parse_moment(args.since, zone=zone), zone)
    until = day_of(parse_moment(args.until, zone=zone), zone) if args.until else None
    if until and until < since:
        raise UsageError(f"--until {until} is before --since {since}")
    check_source(config, args.source)
    return _run_backfill(config, Selection(since=since, until=until, source=args.source), "backfill")


def cmd_reprocess(args: argparse.Namespace, config: Config) -> int:
    from newsetl.flows.backfill import Selection
    from newsetl.rules import load_rules

    if not args.rules_changed:
        raise UsageError("say what to reprocess: --rules-changed")
    check_source(config, args.source)
    version = str(load_rules(config.resolve(config.rules) if config.rules else None).version)
    return _run_backfill(config, Selection(source=args.source, rules_older_than=version), "reprocess")


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from newsetl.flows.deployments import serve_deployments

    path = args.config or Path(DEFAULT_CONFIG_NAME)
    if not path.exists():
        raise UsageError(f"serve needs a config file with a `deployments:` section (no {path})")
    serve_deployments(config, path, limit=args.limit)
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add serve, backfill and reprocess to the `newsetl` subcommands."""
    serve = sub.add_parser("serve", parents=[common], help="run the config's scheduled deployments (Prefect serve)")
    serve.add_argument("--limit", type=int, default=None, help="at most this many runs at once (default: no limit)")
    serve.set_defaults(handler=cmd_serve)

    backfill = sub.add_parser("backfill", parents=[common],
                              help="re-parse and reload already-seen posts published in a date window")
    backfill.add_argument("--since", type=moment_arg, required=True, metavar="WHEN",
                          help=f"first day: {MOMENT_HELP}; whole days in the config's time zone")
    backfill.add_argument("--until", type=moment_arg, metavar="WHEN",
                          help="last day, inclusive (same grammar; default: today)")
    backfill.add_argument("--source", metavar="NAME", help="only this configured source (unknown: exit 2)")
    backfill.set_defaults(handler=cmd_backfill)

    reprocess = sub.add_parser("reprocess", parents=[common], help="reprocess articles cleaned with older rules")
    reprocess.add_argument("--rules-changed", action="store_true",
                           help="articles whose rules_version is not the current site_rules.yaml version")
    reprocess.add_argument("--source", metavar="NAME", help="only this configured source (unknown: exit 2)")
    reprocess.set_defaults(handler=cmd_reprocess)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the `newsetl` command")
