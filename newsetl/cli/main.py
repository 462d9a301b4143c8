"""The `newsetl` command line: ingest, query and inspect the warehouse.

Exit codes: 0 completed, 3 completed with problems (partial), 1 failed, 2 bad usage or configuration.
Expected errors print one line. Settings: command-line flag > NEWSETL_* environment > newsetl.yaml > default.
"""

from __future__ import annotations

import argparse
import gc
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
import importlib
import inspect
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import newsetl.runtime.quick_exit as quick_exit  # first: its exit handler must run last
from newsetl.runtime.timeline import mark
from newsetl.config import Config, load_config
from newsetl.errors import NewsetlError, UsageError
from newsetl.runs import counts_line
from newsetl.cli.outcome import (EXIT_CODES_HELP, EXIT_OK, EXIT_USAGE, LOG_FORMATS, error, finish,
                                 format_from_argv, is_json, json_terminal_logs, note, quiet_expected_errors,
                                 set_log_format)
from newsetl.cli.output import configure_logging, flow_run_link, progress_bar, write_rows
from newsetl.cli.images import add_commands as add_images_commands
from newsetl.cli.reporting import add_commands as add_reporting_commands
from newsetl.cli.schedule import add_commands as add_schedule_commands
from newsetl.cli.init import add_command as add_init_command
from newsetl.cli.early import FLOW_MODULES

Handler = Callable[[argparse.Namespace, Config], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, like every other usage error
        self.exit(error(f"{message} (see {self.prog} --help)", EXIT_USAGE))

    def exit(self, status: int = 0, message: str | None = None) -> None:
        if message:
            sys.stderr.write(message)
        raise _Exit(status)


class _Exit(Exception):
    """argparse's exit (--help, --version, a usage error) as a return code: main() returns it, never exits."""

    def __init__(self, code: int) -> None:
        self.code = code


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsetl")
    except PackageNotFoundError:
        return "unknown"


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, metavar="FILE",
                        help="YAML config file (default: ./newsetl.yaml if present)")
    common.add_argument("--warehouse", type=Path, metavar="FILE",
                        help="DuckDB file (default: NEWSETL_WAREHOUSE, else the config's, else data/newsetl.duckdb)")
    common.add_argument("-v", "--verbose", action="store_true",
                        help="show Prefect's INFO logs in the terminal (they always reach its API)")
    common.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                        help="text (default), or json: one JSON object per line on stderr for messages, "
                             "Prefect's terminal logs and the summary")
    return common


# ---------------------------------------------------------------------------------------------- ingest
def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    from newsetl.flows.ingest import ingest
    from newsetl.flows.runners import with_runner
    from newsetl.runtime.lock import warehouse_lock

    if args.images is not None:
        config.images.enabled = args.images
    if args.rehash:
        config.rehash = True
    if not args.paths and not config.sources:
        raise UsageError("nothing to ingest: give PATH arguments or list sources in newsetl.yaml")
    with progress_bar("ingest"), warehouse_lock(config.resolve(config.warehouse), config.lock_wait):
        summary = with_runner(ingest, config)(config, paths=args.paths or None)
    return finish("ingest", summary["status"],
                  _summary_lines(summary, config, time.perf_counter() - _COMMAND_STARTED), summary)


def run_seconds(summary: dict) -> float | None:
    """The run's duration as `newsetl runs`, the run artifact and the report give it: finished - started, 0.1 s."""
    started, finished = summary.get("started_at"), summary.get("finished_at")
    if not started or not finished:
        return None
    if isinstance(started, str):
        started, finished = datetime.fromisoformat(started), datetime.fromisoformat(finished)
    seconds = Decimal(str((finished - started).total_seconds()))
    return float(seconds.quantize(Decimal("0.1"), ROUND_HALF_UP))  # DuckDB's round(), as `newsetl runs`


def _summary_lines(summary: dict, config: Config, seconds: float) -> list[str]:
    run = run_seconds(summary)
    took = f"{seconds:.1f} s" if run is None else f"{run:.1f} s; {seconds:.1f} s with start-up"
    lines = [f"ingest {summary['status']} (run {summary['run_id']}, {took}): {counts_line(summary)}"]
    for problem in summary.get("problems", [])[:5] if summary["status"] == "partial" else []:
        lines.append(f"  problem: {problem}")
    for reason, count in summary.get("reject_reasons", {}).items():
        lines.append(f"  rejected {count} x {reason}")
    for line in summary.get("extra", {}).get("summary_lines", []):
        lines.append(f"  {line}")
    lines.append(f"warehouse: {config.resolve(config.warehouse)}")
    if link := flow_run_link(summary.get("flow_run_id")):
        lines.append(f"Prefect flow run: {link}")
    return lines


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
    if args.out is None:
        columns, rows = run_query(config, args.sql)
        write_rows(columns, rows, args.format or "table", sys.stdout)
        return EXIT_OK
    from newsetl.warehouse.db import connect_reader
    from newsetl.warehouse.outputs import copy_table, out_format, result_table

    fmt = out_format(args.out)  # by extension, before the query runs: an unknown one is a usage error
    if args.format is not None and args.format != fmt:
        raise UsageError(f"--format {args.format} does not match --out {args.out} (written as {fmt})")
    con = connect_reader(config.resolve(config.warehouse))
    try:
        table = result_table(con, args.sql)
    finally:
        con.close()
    rows = copy_table(table, args.out)
    note(f"wrote {rows} row{'s' if rows != 1 else ''} to {args.out} ({fmt})", rows=rows, path=str(args.out),
         format=fmt)
    return EXIT_OK


def cmd_runs(args: argparse.Namespace, config: Config) -> int:
    from newsetl.warehouse.db import connect_reader
    from newsetl.warehouse.runs import recent_runs

    con = connect_reader(config.resolve(config.warehouse))
    try:
        columns, rows = recent_runs(con, args.limit)
    finally:
        con.close()
    write_rows(columns, rows, args.format, sys.stdout)
    return EXIT_OK


# -------------------------------------------------------------------------------------------- wiring
def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(prog="newsetl", description=__doc__.splitlines()[0], epilog=f"{EXIT_CODES_HELP}. "
                     "Settings: flag > NEWSETL_* environment (NEWSETL_WAREHOUSE, NEWSETL_IMAGES__ENABLED, ...) > "
                     "newsetl.yaml > default.")
    parser.add_argument("--version", action="version", version=f"newsetl {_version()}",
                        help="print newsetl's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ingest = sub.add_parser("ingest", parents=[common], help="ingest configured sources or PATHs",
                            epilog=f"{EXIT_CODES_HELP}. A PATH under a configured source's folder is that source.")
    ingest.add_argument("paths", nargs="*", metavar="PATH", help="folders or post files (instead of config sources)")
    ingest.add_argument("--images", dest="images", action="store_true", default=None,
                        help="download images (default: images.enabled)")
    ingest.add_argument("--no-images", dest="images", action="store_false",
                        help="record image URLs as pending, fetch nothing")
    ingest.add_argument("--rehash", action="store_true",
                        help="read and hash every post file, also those whose size, mtime and inode are unchanged")
    ingest.set_defaults(handler=cmd_ingest)

    query = sub.add_parser("query", parents=[common], help="run read-only SQL against the warehouse")
    query.add_argument("sql", metavar="SQL", help="the SQL (DuckDB dialect); the warehouse is opened read-only")
    query.add_argument("--format", choices=["table", "csv", "json"], default=None,
                       help="output on stdout: table (default), csv or json")
    query.add_argument("--out", type=Path, metavar="FILE",
                       help="write the result to FILE with DuckDB's COPY, by extension: .csv, .json or .parquet")
    query.set_defaults(handler=cmd_query)

    runs = sub.add_parser("runs", parents=[common], help="recent ingest runs with their counts")
    runs.add_argument("--limit", type=int, default=20, help="how many runs, newest first (default: 20)")
    runs.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format")
    runs.set_defaults(handler=cmd_runs)

    add_init_command(sub)

    add_images_commands(sub, common)
    add_reporting_commands(sub, common)
    add_schedule_commands(sub, common)
    return parser


# What Prefect imports when a flow run starts (fastapi: ~0.2 s): imported while the API boots instead.
FLOW_RUN_MODULES = ("prefect.flow_engine", "prefect.task_engine", "fastapi")


def _private_api_ready(flow_module: str, program: bool = False) -> None:
    """Start a private Prefect API unless one is configured or found running, import `flow_module` (and what a
    flow run will import) meanwhile, wait for it.

    The server boots on the other core while this process imports Prefect and the flows, and it dies with
    this process however it ends (newsetl/runtime/prefect_server.py).
    """
    from newsetl.runtime.prefect_server import start_private_api, wait_for_private_api

    start_private_api()  # the `newsetl` program started it already (newsetl/cli/early.py)
    collecting = gc.isenabled()
    gc.disable()  # these imports make ~400k objects: no collections meanwhile (1.60-1.69 -> 1.40-1.50 s CPU)
    try:
        for module in (flow_module, *FLOW_RUN_MODULES):
            importlib.import_module(module)
    finally:
        if collecting:
            if program:
                gc.freeze()  # they live as long as the program: never scanned again
            gc.enable()
    mark("flow module imported")
    wait_for_private_api()
    mark("api ready")


def _list_ahead(paths: list[str], config: Config) -> None:
    """List the folders an ingest will read in a thread, while Prefect's API boots (the flow takes the listing
    if they have not changed since: newsetl/posts/discover.py `list_ahead`)."""
    from newsetl.config import HexoDirSource
    from newsetl.posts.discover import list_ahead

    if paths:
        sources = [HexoDirSource(name="ahead", path=Path(p).resolve()) for p in paths if Path(p).is_dir()]
    else:
        sources = [s for s in config.sources if isinstance(s, HexoDirSource)]
    list_ahead([(config.resolve(s.path), s.globs, s.exclude) for s in sources])


def flow_settings(command: str) -> AbstractContextManager:
    """Prefect settings for the command's flow runs: on the private API, no flow-run heartbeats; on a
    configured API, heartbeats whose thread the run does not wait for.

    Heartbeats let a server mark a flow run crashed when its process dies; the private API dies with the
    process, so nothing would read them. At the end of every (sync) flow run Prefect joins its heartbeat
    thread, which sleeps in 1 s steps: 0-1 s added to each command (0.26-0.97 s measured against a running
    server). A configured API keeps its heartbeats (they are its crash detection), but the thread is left to
    end on its own within the second (`_unjoined_heartbeats`).
    """
    if command not in FLOW_MODULES:
        return nullcontext()
    from newsetl.runtime.prefect_server import is_private_api

    if not is_private_api():
        return _unjoined_heartbeats()
    import prefect.settings

    return prefect.settings.temporary_settings(updates={prefect.settings.PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


@contextmanager
def _unjoined_heartbeats() -> Iterator[None]:
    """Flow runs whose heartbeat thread is not joined at their end (what Prefect's async engine does).

    The thread is a daemon that checks its stop event before each heartbeat and after each 1 s sleep, so it
    ends within a second without sending another heartbeat. Prefect's private helper is wrapped only if it
    still takes `join_on_exit`; otherwise nothing changes.
    """
    import prefect.flow_engine as engine

    send = getattr(engine, "_send_heartbeats", None)
    if send is None or "join_on_exit" not in inspect.signature(send).parameters:
        yield
        return
    engine._send_heartbeats = partial(send, join_on_exit=False)
    try:
        yield
    finally:
        engine._send_heartbeats = send


_COMMAND_STARTED = time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (0 completed, 3 partial, 1 failed, 2 usage or config).

    Without `argv` (the `newsetl` program) the process ends right after its exit handlers, without the
    interpreter's tear-down (newsetl/runtime/quick_exit.py).
    """
    code = _command(argv)
    if argv is None:
        quick_exit.exit_with(code)
    return code


def _command(argv: list[str] | None) -> int:
    global _COMMAND_STARTED
    _COMMAND_STARTED = time.perf_counter()  # the wall time a summary reports includes Prefect's start-up
    mark("cli imported")
    program = argv is None  # the `newsetl` program, not a call from Python
    argv = sys.argv[1:] if argv is None else list(argv)
    set_log_format(format_from_argv(argv))
    try:
        args = build_parser().parse_args(argv)
    except _Exit as exc:
        return exc.code
    set_log_format(args.log_format)
    configure_logging(args.verbose)  # before Prefect is imported: INFO to its API, warnings to the terminal
    try:
        if not getattr(args, "needs_config", True):  # `init`
            return args.handler(args, None)
        config = load_config(args.config, environ=os.environ)  # flag > NEWSETL_* environment > file > default
        if args.warehouse is not None:
            config.warehouse = args.warehouse.resolve()
        mark("config loaded")
        if args.command == "ingest":
            _list_ahead(args.paths, config)
        if args.command in FLOW_MODULES:
            _private_api_ready(FLOW_MODULES[args.command], program=program)
        elif args.command == "serve":  # schedules need a Prefect server: one running here as this user serves
            from newsetl.runtime.prefect_server import api_in_place

            api_in_place()
        if args.command in FLOW_MODULES or args.command == "serve":  # commands that run flows
            quiet_expected_errors()  # after Prefect set up its logging (the import above, when there is one)
            if is_json():
                json_terminal_logs()
            from newsetl.runtime import local_server

            if local_server.passed_over:  # a running Prefect server that was not used: why, in one line
                note(local_server.passed_over)
        with flow_settings(args.command):
            code = args.handler(args, config)
        mark("command done")
        return code
    except NewsetlError as exc:
        return error(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return error("interrupted", 130)
    except BrokenPipeError:  # the reader went away (`newsetl query ... | head`): nothing to say, as `git log | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush must not fail again
        return 141  # 128 + SIGPIPE, what a shell reports for a program its pipe stopped


if __name__ == "__main__":
    sys.exit(main())
