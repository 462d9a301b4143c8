"""CLI subcommands of the reporting part: `newsetl search`, `newsetl export`, `newsetl report`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from newsetl.config import Config
from newsetl.errors import NewsetlError


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {value!r} (use YYYY-MM-DD)") from None


def _names(values: list[str]) -> list[str]:
    """`--tables a b,c` -> [a, b, c]."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def cmd_search(args: argparse.Namespace, config: Config) -> int:
    from newsetl.cli.output import write_rows
    from newsetl.reporting.search import search
    from newsetl.warehouse.db import connect_reader

    con = connect_reader(config.resolve(config.warehouse))
    try:
        hits = search(con, args.query, sources=_names(args.source) or None, since=args.since, limit=args.limit)
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
    search.add_argument("--source", action="append", default=[], help="only these sources (repeat or a,b)")
    search.add_argument("--since", type=_day, help="only articles published on or after this UTC day")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--format", choices=["table", "csv", "json"], default="table")
    search.set_defaults(handler=cmd_search)

    export = sub.add_parser("export", parents=[common], help="write tables and views as Parquet or CSV")
    export.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    export.add_argument("--out", type=Path, required=True, metavar="DIR")
    export.add_argument("--tables", nargs="+", default=[], metavar="TABLE", help="default: all reporting tables")
    export.set_defaults(handler=cmd_export)

    report = sub.add_parser("report", parents=[common], help="write a self-contained HTML report")
    report.add_argument("--out", type=Path, default=Path("report.html"), metavar="FILE")
    report.set_defaults(handler=cmd_report)
