"""The `newsetl` command line: ingest, query and inspect the warehouse.

Exit codes: 0 ok, 1 the run failed, 2 bad usage or configuration. Expected errors print one line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable

from newsetl.config import Config, load_config
from newsetl.errors import NewsetlError, UsageError
from newsetl.cli.output import configure_logging, flow_run_link, progress_bar, write_rows
from newsetl.cli.images import add_commands as add_images_commands
from newsetl.cli.reporting import add_commands as add_reporting_commands
from newsetl.cli.schedule import add_commands as add_schedule_commands

Handler = Callable[[argparse.Namespace, Config], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, like every other usage error
        self.exit(2, f"newsetl: error: {message} (see {self.prog} --help)\n")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="YAML config file (default: ./newsetl.yaml if present)")
    common.add_argument("--warehouse", type=Path, help="DuckDB file (default: from config, else "
                                                       "data/newsetl.duckdb)")
    common.add_argument("-v", "--verbose", action="store_true",
                        help="show Prefect's INFO logs in the terminal (they always reach its API)")
    return common


# ---------------------------------------------------------------------------------------------- ingest
def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    from newsetl.flows.ingest import ingest
    from newsetl.flows.runners import with_runner
    from newsetl.runtime.lock import warehouse_lock

    if args.images is not None:
        config.images.enabled = args.images
    if not args.paths and not config.sources:
        raise UsageError("nothing to ingest: give PATH arguments or list sources in newsetl.yaml")
    started = time.perf_counter()
    with progress_bar("ingest"), warehouse_lock(config.resolve(config.warehouse), config.lock_wait):
        summary = with_runner(ingest, config)(config, paths=args.paths or None)
    _print_summary(summary, config, time.perf_counter() - started)
    return 1 if summary["status"] == "failed" else 0


def _print_summary(summary: dict, config: Config, seconds: float) -> None:
    print(f"ingest {summary['status']} (run {summary['run_id']}, {seconds:.1f} s): "
          f"{summary['discovered']} discovered, {summary['new']} new, {summary['updated']} updated, "
          f"{summary['unchanged']} unchanged, {summary['rejected']} rejected")
    for reason, count in summary.get("reject_reasons", {}).items():
        print(f"  rejected {count} x {reason}")
    for line in summary.get("extra", {}).get("summary_lines", []):
        print(f"  {line}")
    print(f"warehouse: {config.resolve(config.warehouse)}")
    if link := flow_run_link(summary.get("flow_run_id")):
        print(f"Prefect flow run: {link}")


# ----------------------------------------------------------------------------------------------- query
def run_query(config: Config, sql: str) -> tuple[list[str], list[tuple]]:
    """Run read-only SQL against the warehouse; SQL errors become one-line usage errors."""
    from newsetl.warehouse.db import connect_reader
    from newsetl.warehouse.report_queries import run_sql

    con = connect_reader(config.resolve(config.warehouse))
    try:
        return run_sql(con, sql)
    finally:
        con.close()


def cmd_query(args: argparse.Namespace, config: Config) -> int:
    columns, rows = run_query(config, args.sql)
    if args.out is None:
        write_rows(columns, rows, args.format or "table", sys.stdout)
        return 0
    fmt = args.format or {".csv": "csv", ".json": "json"}.get(args.out.suffix.lower(), "table")
    try:
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            write_rows(columns, rows, fmt, out)
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
    print(f"wrote {len(rows)} row{'s' if len(rows) != 1 else ''} to {args.out} ({fmt})", file=sys.stderr)
    return 0


def cmd_runs(args: argparse.Namespace, config: Config) -> int:
    from newsetl.warehouse.db import connect_reader
    from newsetl.warehouse.runs import recent_runs

    con = connect_reader(config.resolve(config.warehouse))
    try:
        columns, rows = recent_runs(con, args.limit)
    finally:
        con.close()
    write_rows(columns, rows, args.format, sys.stdout)
    return 0


# -------------------------------------------------------------------------------------------- wiring
def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(prog="newsetl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ingest = sub.add_parser("ingest", parents=[common], help="ingest configured sources or PATHs")
    ingest.add_argument("paths", nargs="*", metavar="PATH", help="folders or post files (instead of config sources)")
    ingest.add_argument("--images", dest="images", action="store_true", default=None, help="download images")
    ingest.add_argument("--no-images", dest="images", action="store_false", help="skip image downloads")
    ingest.set_defaults(handler=cmd_ingest)

    query = sub.add_parser("query", parents=[common], help="run read-only SQL against the warehouse")
    query.add_argument("sql", metavar="SQL")
    query.add_argument("--format", choices=["table", "csv", "json"], default=None,
                       help="default: table, or from the --out file's extension (.csv, .json)")
    query.add_argument("--out", type=Path, metavar="FILE", help="write the result to FILE instead of stdout")
    query.set_defaults(handler=cmd_query)

    runs = sub.add_parser("runs", parents=[common], help="recent ingest runs with their counts")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--format", choices=["table", "csv", "json"], default="table")
    runs.set_defaults(handler=cmd_runs)

    add_images_commands(sub, common)
    add_reporting_commands(sub, common)
    add_schedule_commands(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)  # before Prefect is imported: INFO to its API, warnings to the terminal
    try:
        config = load_config(args.config)
        if args.warehouse is not None:
            config.warehouse = args.warehouse.resolve()
        return args.handler(args, config)
    except NewsetlError as exc:
        print(f"newsetl: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("newsetl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
