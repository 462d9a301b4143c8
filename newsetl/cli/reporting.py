"""CLI subcommands of the reporting part: `newsetl search`, `newsetl export`, `newsetl report`."""

from __future__ import annotations

import argparse
import sys
from datetime import timezone
from pathlib import Path

from newsetl.config import Config
from newsetl.durations import MOMENT_HELP, day_of, moment_arg, parse_moment
from newsetl.errors import NewsetlError, UsageError


def _names(values: list[str]) -> list[str]:
    """`--tables a b,c` -> [a, b, c]."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    from newsetl.cli.output import write_rows
    from newsetl.reporting.search import search
    from newsetl.warehouse.db import connect_reader
    from newsetl.warehouse.source_roots import loaded_sources

    sources = _names(args.source)
    unknown = [name for name in sources if name not in config.source_names()]
    con = connect_reader(config.resolve(config.warehouse))
    try:
        if unknown:  # configured sources, plus the ad-hoc ones the warehouse has articles of
            known = sorted(set(config.source_names()) | set(loaded_sources(con)))
            if any(name not in known for name in unknown):
                raise UsageError(f"unknown source {[n for n in unknown if n not in known][0]!r} "
                                 f"(known: {', '.join(known) or 'none'})")
        since = day_of(parse_moment(args.since), timezone.utc) if args.since else None
        hits = search(con, args.query, sources=sources or None, since=since, limit=args.limit)
    finally:
        con.close()
    rows = [(round(h.score, 4), h.published_at, h.source, h.title, h.article_id, h.url) for h in hits]
    write_rows(["score", "published_at", "source", "title", "article_id", "url"], rows, args.format, sys.stdout)
    return 0


def cmd_export(args: argparse.Namespace, config: Config) -> int:
    from newsetl.reporting.export import export
    from newsetl.warehouse.db import connect_reader

    con = connect_reader(config.resolve(config.warehouse))
    try:
        done = export(con, args.out, args.format, _names(args.tables) or None)
    except OSError as exc:
        raise NewsetlError(f"cannot write under {args.out}: {exc.strerror or exc}") from None
    finally:
        con.close()
    for item in done:
        print(f"{item.name}: {item.rows} rows -> {item.path}")
    return 0


def cmd_report(args: argparse.Namespace, config: Config) -> int:
    from newsetl.reporting.report import write_report
    from newsetl.warehouse.db import connect_reader

    con = connect_reader(config.resolve(config.warehouse))
    try:
        data = write_report(con, args.out, config.reporting)
    except OSError as exc:
        raise NewsetlError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    finally:
        con.close()
    totals = ", ".join(f"{value} {name}" for name, value in data.totals.items())
    print(f"wrote {args.out} ({totals})")
    return 0


def add_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register the reporting subcommands on the main parser."""
    search = sub.add_parser("search", parents=[common], help="full-text search (BM25) over the articles")
    search.add_argument("query", metavar="QUERY", help="words to look for, e.g. \"新能源 汽车\"")
    search.add_argument("--source", action="append", default=[],
                        help="only these sources (repeat or a,b); an unknown one is an error (exit 2)")
    search.add_argument("--since", type=moment_arg, metavar="WHEN",
                        help=f"only articles published on or after the UTC day of WHEN: {MOMENT_HELP}")
    search.add_argument("--limit", type=int, default=20, help="at most this many hits (default: 20)")
    search.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output format")
    search.set_defaults(handler=cmd_search)

    export = sub.add_parser("export", parents=[common], help="write tables and views as Parquet or CSV")
    export.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="file format")
    export.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write into")
    export.add_argument("--tables", nargs="+", default=[], metavar="TABLE", help="default: all reporting tables")
    export.set_defaults(handler=cmd_export)

    report = sub.add_parser("report", parents=[common], help="write a self-contained HTML report")
    report.add_argument("--out", type=Path, default=Path("report.html"), metavar="FILE",
                        help="the HTML file to write (default: report.html)")
    report.set_defaults(handler=cmd_report)
