"""What one run did (`RunSummary`), and the one rule that turns it into the run's status."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping

from newsetl.models import Reject

# A reject at these stages means a whole source or URL yielded nothing: the run is partial.
SOURCE_STAGES = ("discover", "fetch")


@dataclass(slots=True)
class RunSummary:
    """What one ingest run did; printed by the CLI and stored in `ingest_runs`."""

    run_id: str
    flow_run_id: str | None
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    discovered: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0  # posts Hexo would not publish: drafts, `published: false` (counted, not rejected)
    sources: list[str] = field(default_factory=list)
    message: str | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    reject_reasons: dict[str, int] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)  # e.g. image stats, per-source counts
    problems: list[str] = field(default_factory=list)  # why the run is partial (see `decide_status`)

    @classmethod
    def begin(cls, sources: list[str] | None = None, flow_run_id: str | None = None) -> "RunSummary":
        """A summary for a run starting now."""
        return cls(run_id=uuid.uuid4().hex[:12], flow_run_id=flow_run_id,
                   started_at=datetime.now(timezone.utc), sources=list(sources or []))

    def add_problem(self, problem: str, message: bool = False) -> None:
        """Something went wrong that leaves the run partial (a source not walked or fetched, a step stopped).

        With `message`, the problem also becomes the run's message.
        """
        self.problems.append(problem)
        if message:
            self.message = problem

    def add_rejects(self, rejects: Iterable[Reject]) -> None:
        """Count the rejects' reasons (the ten most common are kept); a source that yielded nothing is a problem."""
        rejects = list(rejects)
        reasons = Counter(self.reject_reasons) + Counter(f"{r.stage}: {r.error}" for r in rejects)
        self.reject_reasons = dict(reasons.most_common(10))
        for r in rejects:
            if r.stage in SOURCE_STAGES:
                self.add_problem(f"{r.source}: {r.stage}: {r.error}")

    def fail(self, exc: BaseException) -> None:
        """An error escaped the run: it failed."""
        self.status = "failed"
        self.message = f"{type(exc).__name__}: {exc}"

    def decide_status(self) -> str:
        """The run's final status, decided here and nowhere else: failed, partial or completed."""
        if self.status != "failed":
            self.status = "partial" if self.problems else "completed"
        return self.status

    def to_dict(self) -> dict:
        return asdict(self)


# A run's counts, in the order every view of them shows, then skipped: discovered = new + updated + unchanged
# + rejected + skipped.
COUNTS = ("discovered", "new", "updated", "unchanged", "rejected")


def counts_line(summary: Mapping) -> str:
    """A run's counts in one line (a summary dict): `15 discovered, 15 new, 0 updated, 0 unchanged, 0 rejected`,
    then `, 2 skipped (not published)` when Hexo would not publish some, so the counts add up."""
    return ", ".join(f"{summary.get(key, 0)} {key}" for key in COUNTS) + skipped_part(summary.get("skipped", 0))


def skipped_part(skipped: int) -> str:
    """What ends a line of a run's counts: `, 2 skipped (not published)`, or nothing when none was skipped."""
    return f", {skipped} skipped (not published)" if skipped else ""


def run_markdown(summary: RunSummary) -> str:
    """The run summary as markdown for the Prefect UI: headings, tables and bullet lists, never Python reprs."""
    seconds = (summary.finished_at - summary.started_at).total_seconds() if summary.finished_at else 0.0
    lines = [f"# newsetl run `{summary.run_id}`: {summary.status}", ""]
    if summary.message:
        lines += [_cell(summary.message), ""]
    columns = [*COUNTS, "skipped"]
    lines += markdown_table([*columns, "duration (s)"],
                            [[*(getattr(summary, key) for key in columns), f"{seconds:.1f}"]], numeric=7)
    if summary.problems:
        lines += ["", "## Problems (why the run is partial)", ""] + [f"- {_cell(p)}" for p in summary.problems]
    if summary.stage_seconds:
        lines += ["", "## Time per stage", ""]
        lines += markdown_table(["stage", "seconds"], [[stage, f"{value:.2f}"] for stage, value in
                                                      summary.stage_seconds.items()], numeric=1)
    if summary.reject_reasons:
        lines += ["", "## Reject reasons", ""]
        rows = [reason.split(": ", 1) + [count] if ": " in reason else ["", reason, count]
                for reason, count in summary.reject_reasons.items()]
        lines += markdown_table(["stage", "reason", "rejects"], rows, numeric=1)
    for key, value in summary.extra.items():
        lines += ["", f"## {_title(key)}", ""] + _markdown_value(value)
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[object]], numeric: int = 0) -> list[str]:
    """A markdown table's lines; the last `numeric` columns are right-aligned; cells are escaped (`|`, newlines)."""
    align = ["---"] * (len(header) - numeric) + ["---:"] * numeric
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]


def _markdown_value(value: object) -> list[str]:
    """An `extra` entry as markdown: text as is, lines as bullets, a dict as a table (nested pairs as a second)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [f"- {_cell(item)}" for item in value]
    if isinstance(value, dict):
        scalars = [[k.replace("_", " "), v] for k, v in value.items() if not isinstance(v, (list, tuple, dict))]
        lines = markdown_table(["measure", "value"], scalars, numeric=1) if scalars else []
        for k, v in value.items():
            if isinstance(v, (list, tuple)) and v and all(isinstance(i, (list, tuple)) and len(i) == 2 for i in v):
                lines += ["", f"### {_title(k)}", ""] + markdown_table(["name", "count"], [list(i) for i in v], 1)
            elif isinstance(v, dict) and v:
                lines += ["", f"### {_title(k)}", ""]
                lines += markdown_table(["name", "value"], [list(i) for i in v.items()], numeric=1)
        return lines
    return [_cell(value)]


def _title(key: str) -> str:
    text = "notes" if key == "summary_lines" else key.replace("_", " ")
    return text[:1].upper() + text[1:]


def _cell(value: object) -> str:
    """One table cell / list item: no line breaks, pipes escaped."""
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def per_source_markdown(counts: list[tuple[str, int, int]]) -> str:
    """(source, written, rejected) rows as a markdown table."""
    return "\n".join(markdown_table(["source", "new or updated", "rejected"], [list(c) for c in counts], numeric=2))
