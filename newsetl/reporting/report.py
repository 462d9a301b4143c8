"""The self-contained HTML report: inline CSS and SVG charts, nothing fetched when it is opened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from newsetl.config import ReportingConfig
from newsetl.reporting import charts
from newsetl.warehouse import report_queries as queries
from newsetl.warehouse.export import available


@dataclass
class ReportData:
    """Everything the page shows, queried from the warehouse views (`newsetl.warehouse.report_queries`)."""

    generated_at: str
    totals: dict[str, int]
    days: list[str] = field(default_factory=list)
    per_source: dict[str, list[int]] = field(default_factory=dict)
    image_rows: list[tuple[str, float, int | None]] = field(default_factory=list)
    image_note: str | None = None
    keywords: list[tuple[str, int]] = field(default_factory=list)
    stories: list[tuple] = field(default_factory=list)
    runs: list[tuple] = field(default_factory=list)


def _articles_per_day(con: duckdb.DuckDBPyConnection, days: int) -> tuple[list[str], dict[str, list[int]]]:
    rows = queries.articles_per_day(con, days)
    labels = sorted({row[0] for row in rows})
    series: dict[str, list[int]] = {}
    for day, source, count in rows:
        series.setdefault(source, [0] * len(labels))[labels.index(day)] = count
    return labels, series


def _image_health(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple[str, float, int | None]], str | None]:
    """(host, success rate 0..1, total) rows from the images view, or a note saying why there are none."""
    if "image_health" not in available(con):
        return [], "No image data: the image_health view is not in this warehouse."
    columns = queries.view_columns(con, "image_health")
    rate = next((c for c in columns if c == "success_rate"), None) or next((c for c in columns if "rate" in c), None)
    label = next((c for c in ("host", "source") if c in columns), columns[0])
    total = next((c for c in ("total", "urls", "images") if c in columns), None)
    if rate is None:
        return [], "No image data: image_health has no success rate column."
    rows = queries.image_health_rows(con, label, rate, total)
    if not rows:
        return [], "No image data yet: no image downloads recorded."
    scale = 100.0 if max(float(r[1]) for r in rows) > 1 else 1.0
    return [(r[0], float(r[1]) / scale, r[2]) for r in rows], None


def collect(con: duckdb.DuckDBPyConnection, config: ReportingConfig) -> ReportData:
    """Query the warehouse for the report."""
    articles, sources, duplicate_stories, runs = queries.totals(con)
    data = ReportData(
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        totals={"articles": articles, "sources": sources, "duplicate stories": duplicate_stories, "runs": runs},
    )
    data.days, data.per_source = _articles_per_day(con, config.report_days)
    data.image_rows, data.image_note = _image_health(con)
    data.keywords = queries.top_keywords(con, config.top_keywords)
    data.stories = queries.duplicate_stories(con, 15)
    data.runs = queries.latest_runs(con, config.report_runs)
    return data


def charts_for(data: ReportData) -> dict[str, Markup | None]:
    """SVG markup of each chart (None when there is nothing to draw)."""
    runs = list(reversed(data.runs))
    return {
        "per_day": charts.stacked_columns(data.days, data.per_source, chart_id="chart-articles-per-day")
        if data.days else None,
        "images": charts.horizontal_bars([r[0] for r in data.image_rows], [r[1] * 100 for r in data.image_rows],
                                         chart_id="chart-image-success", value_format="{:.0f}%", max_value=100)
        if data.image_rows else None,
        "keywords": charts.horizontal_bars([k[0] for k in data.keywords], [k[1] for k in data.keywords],
                                           chart_id="chart-top-keywords", label_width=140)
        if data.keywords else None,
        "stories": charts.horizontal_bars([s[0] or "(untitled)" for s in data.stories],
                                          [s[1] for s in data.stories], chart_id="chart-duplicate-stories")
        if data.stories else None,
        "runs": charts.stacked_columns(
            [r[1] for r in runs],
            {name: [r[index] or 0 for r in runs]
             for name, index in (("new", 5), ("updated", 6), ("unchanged", 7), ("rejected", 8))},
            chart_id="chart-latest-runs") if runs else None,
    }


def render(data: ReportData) -> str:
    env = Environment(loader=PackageLoader("newsetl.reporting", "templates"), autoescape=select_autoescape())
    return env.get_template("report.html.j2").render(data=data, charts=charts_for(data))


def write_report(con: duckdb.DuckDBPyConnection, out: Path, config: ReportingConfig) -> ReportData:
    """Render the report into `out` (written atomically: temp file, then rename)."""
    data = collect(con, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(out)
    return data
