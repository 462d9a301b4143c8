"""Terminal output shared by the commands: logging set-up, the progress display, flow-run links and result
tables (table, csv, json)."""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
from contextlib import contextmanager
from typing import Iterator

PHASE = "newsetl_phase"  # LogRecord attribute set by newsetl.flows.log.phase: a line the terminal shows too
STARTING = "starting the orchestrator (Prefect)"


def configure_logging(verbose: bool) -> None:
    """Run logs reach Prefect's API at INFO (the UI's Logs tab); the terminal shows Prefect's warnings only.

    Must run before Prefect is imported: Prefect reads these settings once, when it sets up logging. Prefect's
    loggers stay at INFO, so its API handler sends every run and task log; only its console handler is raised to
    WARNING (with --verbose it shows INFO too). Explicit PREFECT_* settings in the environment still win.
    Prefect's own SDK telemetry (and its first-run notice) is off: DO_NOT_TRACK is set in newsetl/__init__.py.
    """
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    else:
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "INFO"


def flow_run_link(flow_run_id: str | None) -> str | None:
    """The flow run's page in the Prefect UI when a Prefect server is configured (PREFECT_API_URL), else None.

    The private API that `newsetl` starts on its own (newsetl/runtime/prefect_server.py) has no UI worth linking
    to: it stops with the command.
    """
    from newsetl.runtime.prefect_server import is_private_api

    if not flow_run_id or is_private_api():
        return None
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if not settings.api.url or not settings.ui_url:
        return None
    return f"{settings.ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}"


class _PhaseLines(logging.Handler):
    """Shows the flow's phase lines (see newsetl.flows.log.phase) above the progress bar as they happen."""

    def __init__(self, show) -> None:
        super().__init__(logging.INFO)
        self.show = show

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, PHASE, False):
            try:
                self.show(record.getMessage())
            except Exception:  # never let the terminal break a run
                self.handleError(record)


@contextmanager
def progress_bar(label: str) -> Iterator[None]:
    """Phases as they happen and a bar fed by `newsetl.runtime.progress.report` (only on a terminal).

    Shows "starting the orchestrator" until the flow reports, one line per finished phase (discovered N files,
    loaded, images, analytics: the same lines the run logs to Prefect), and a bar per stage that moves per
    batch. Silent when stderr is not a terminal (piped, CI): the command's summary is the only output then.
    """
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn)

    from newsetl.runtime.progress import set_reporter

    tty = sys.stderr.isatty()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True, disable=not tty) as bar:
        task_id = bar.add_task(STARTING if label == "ingest" else label, total=None)

        current = {"stage": "", "task": task_id}

        def update(stage: str, done: int, total: int) -> None:
            if stage != current["stage"]:  # a new phase: a fresh bar (no total = a spinner), its own elapsed time
                bar.remove_task(current["task"])
                current.update(stage=stage, task=bar.add_task(stage, completed=done, total=total or None))
            else:
                bar.update(current["task"], completed=done, total=total or None)
            if total and done >= total:  # draw the finished bar now: the next phase may replace it within a frame
                bar.refresh()

        def show(line: str) -> None:
            bar.console.print(line, markup=False, highlight=False)

        handler = _PhaseLines(show)
        phase_logger = logging.getLogger("prefect.flow_runs")
        if tty:
            phase_logger.addHandler(handler)
        set_reporter(update)
        try:
            yield
        finally:
            set_reporter(None)
            phase_logger.removeHandler(handler)


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
