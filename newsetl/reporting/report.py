"""The self-contained HTML report: inline CSS and SVG charts, nothing fetched when it is opened.

Every value is escaped: the Jinja environment autoescapes whatever the template prints, and the charts (the only
`Markup` the template receives) escape each value they put into their SVG (`newsetl.reporting.charts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from newsetl.config import ReportingConfig
from newsetl.reporting import charts
from newsetl.warehouse import report_queries as queries
from newsetl.warehouse.export import available

# The time axis: the whole range of publication dates, in buckets chosen by its span.
DAILY_UP_TO_DAYS = 62      # up to ~2 months: one column per day
WEEKLY_UP_TO_DAYS = 366    # up to a year: one column per week (Monday); longer: one per month
IMAGE_OUTCOMES = {"fetched": "#59a14f", "failed": "#e15759", "refused by policy": "#bab0ac",
                  "not tried yet": "#edc948"}


@dataclass
class ReportData:
    """Everything the page shows, queried from the warehouse (`newsetl.warehouse.report_queries`)."""

    generated_at: str
    totals: dict[str, int]
    bucket: str = "day"                                   # day | week | month
    span: tuple[date, date] | None = None                 # first and last UTC day with articles
    buckets: list[str] = field(default_factory=list)      # every bucket of the span, empty ones included
    per_source: dict[str, list[int]] = field(default_factory=dict)
    images: list[tuple] = field(default_factory=list)     # (host, urls, fetched, failed, refused, pending)
    image_note: str | None = None
    keywords: list[tuple[str, int]] = field(default_factory=list)
    stories: list[tuple] = field(default_factory=list)
    runs: list[tuple] = field(default_factory=list)
    reject_reasons: list[tuple] = field(default_factory=list)
    latest_rejects: list[tuple] = field(default_factory=list)
    latest_articles: list[tuple] = field(default_factory=list)
    categories: list[tuple[str, int]] = field(default_factory=list)
    editors: list[tuple[str, int]] = field(default_factory=list)


def bucket_for(span: tuple[date, date] | None) -> str:
    """day, week or month: the bucket that keeps the whole span readable."""
    days = (span[1] - span[0]).days + 1 if span else 0
    return "day" if days <= DAILY_UP_TO_DAYS else "week" if days <= WEEKLY_UP_TO_DAYS else "month"


def _articles_over_time(con: duckdb.DuckDBPyConnection, unit: str) -> tuple[list[str], dict[str, list[int]]]:
    rows = queries.articles_per_bucket(con, unit)
    labels = list(dict.fromkeys(row[0] for row in rows))
    index = {label: i for i, label in enumerate(labels)}
    series: dict[str, list[int]] = {}
    for label, source, count in rows:
        if source is not None:
            series.setdefault(source, [0] * len(labels))[index[label]] = count
    return labels, series


def success_rate(fetched: int, failed: int) -> float | None:
    """fetched / (fetched + failed): URLs refused by policy or not tried yet are not part of it."""
    return fetched / (fetched + failed) if fetched + failed else None


def collect(con: duckdb.DuckDBPyConnection, config: ReportingConfig) -> ReportData:
    """Query the warehouse for the report."""
    articles, sources, duplicate_stories, runs = queries.totals(con)
    data = ReportData(
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        totals={"articles": articles, "sources": sources, "duplicate stories": duplicate_stories, "runs": runs},
    )
    data.span = queries.published_span(con)
    data.bucket = bucket_for(data.span)
    if data.span:
        data.buckets, data.per_source = _articles_over_time(con, data.bucket)
    if "image_fetches" in available(con):
        data.images = queries.image_outcomes(con, 15)
    data.image_note = None if data.images else "No image data yet: no image URLs recorded."
    data.keywords = queries.top_keywords(con, config.top_keywords)
    data.stories = queries.duplicate_stories(con, 15)
    data.runs = queries.latest_runs(con, config.report_runs)
    data.reject_reasons = queries.reject_reasons(con, 15)
    data.latest_rejects = queries.latest_rejects(con, 10)
    data.latest_articles = queries.latest_articles(con, 10)
    data.categories = queries.top_categories(con, 10)
    data.editors = queries.top_editors(con, 10)
    return data


def charts_for(data: ReportData) -> dict[str, Markup | None]:
    """SVG markup of each chart (None when there is nothing to draw)."""
    runs = list(reversed(data.runs))
    unit = {"day": "day", "week": "week (from Monday)", "month": "month"}[data.bucket]
    images = {name: [row[2 + i] for row in data.images] for i, name in enumerate(IMAGE_OUTCOMES)}
    return {
        "over_time": charts.stacked_columns(data.buckets, data.per_source, chart_id="chart-articles-over-time",
                                            x_title=f"{unit}, UTC, by publication date",
                                            y_title=f"articles per {data.bucket}")
        if data.buckets else None,
        "images": charts.stacked_bars([r[0] for r in data.images], images, chart_id="chart-image-outcomes",
                                      unit="image URLs", colors=list(IMAGE_OUTCOMES.values()))
        if data.images else None,
        "keywords": charts.horizontal_bars([k[0] for k in data.keywords], [k[1] for k in data.keywords],
                                           chart_id="chart-top-keywords", label_width=140,
                                           unit="articles with the term among their 10 top TF-IDF terms")
        if data.keywords else None,
        "stories": charts.horizontal_bars([s[0] or "(untitled)" for s in data.stories],
                                          [s[1] for s in data.stories], chart_id="chart-duplicate-stories",
                                          unit="articles telling the story")
        if data.stories else None,
        "runs": charts.stacked_columns(
            [r[1] for r in runs],
            {name: [r[index] or 0 for r in runs]
             for name, index in (("new", 5), ("updated", 6), ("unchanged", 7), ("rejected", 8), ("skipped", 9))},
            chart_id="chart-latest-runs", x_title="run start, UTC", y_title="inputs per run") if runs else None,
    }


def render(data: ReportData) -> str:
    """The page. Autoescape is on for every template: each value printed is escaped, whatever its source."""
    env = Environment(loader=PackageLoader("newsetl.reporting", "templates"), autoescape=True)
    return env.get_template("report.html.j2").render(data=data, charts=charts_for(data), success_rate=success_rate,
                                                      outcomes=list(IMAGE_OUTCOMES))


def write_report(con: duckdb.DuckDBPyConnection, out: Path, config: ReportingConfig) -> ReportData:
    """Render the report into `out` (written atomically: temp file, then rename)."""
    data = collect(con, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(out)
    return data
