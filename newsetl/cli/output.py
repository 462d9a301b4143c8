"""Terminal output shared by the commands: the progress bar and result tables (table, csv, json)."""

from __future__ import annotations

import csv
import json
import os
import sys
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def progress_bar(label: str) -> Iterator[None]:
    """A rich progress bar fed by `newsetl.runtime.progress.report` (only on a terminal; silent when piped or in CI)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from newsetl.runtime.progress import set_reporter

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=True, disable=not sys.stderr.isatty()) as bar:
        task_id = bar.add_task(label, total=None)
        set_reporter(lambda stage, done, total: bar.update(task_id, description=stage, completed=done,
                                                            total=total or None))
        try:
            yield
        finally:
            set_reporter(None)


def write_rows(columns: list[str], rows: list[tuple], fmt: str, out) -> None:
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "json":
        json.dump([dict(zip(columns, row)) for row in rows], out, ensure_ascii=False, default=str, indent=1)
        out.write("\n")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns, show_lines=False)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console(file=out, width=max(120, os.get_terminal_size().columns if out.isatty() else 200)).print(table)
        out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")
