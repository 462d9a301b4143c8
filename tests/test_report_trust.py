"""A report you can trust: a real time axis over the whole range (gaps shown, buckets by span), a rejects
section, images split into fetched / failed / refused by policy, keywords without latin fragments, labelled units.

The two-year corpus is the real fixture posts (tests/fixtures/posts) re-dated across 2021-2022 with a planned
gap, ingested by the real flow; the page is opened in headless chromium (tests/setup_browser.sh).
"""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from PIL import Image

from imageserver import Reply
from images_helpers import add_article, make_config, open_warehouse
from newsetl.cli import main
from newsetl.config import ReportingConfig, config_from_dict
from newsetl.reporting.report import bucket_for, collect, render
from test_report import browse, chromium, console_messages  # noqa: F401  (the module's chromium fixture)

POSTS = Path(__file__).parent / "fixtures" / "posts"
DATE_LINE = re.compile(r"^date:.*$", re.MULTILINE)
GAP = ("2021-06", "2021-07", "2021-08", "2021-09")  # no post is dated in these months


def two_year_dates(count: int) -> list[datetime]:
    """`count` dates from 2021-01-15 to 2022-12-20 (the span's ends included), none in the GAP months."""
    start, end = datetime(2021, 1, 15, 8), datetime(2022, 12, 20, 8)
    step = (end - start) / (count - 1)
    dates = [start + step * i for i in range(count)]
    return [d if d.strftime("%Y-%m") not in GAP else d.replace(month=5, day=20) for d in dates]


def two_year_corpus(folder: Path, copies: int = 3) -> list[datetime]:
    """The fixture posts, `copies` times each, re-dated across two years, in two sources."""
    originals = sorted(p for p in POSTS.rglob("*.md") if DATE_LINE.search(p.read_text(encoding="utf-8")))
    dates = two_year_dates(len(originals) * copies)
    for i, when in enumerate(dates):
        source = folder / ("archive-a" if i % 2 else "archive-b")
        source.mkdir(parents=True, exist_ok=True)
        text = originals[i % len(originals)].read_text(encoding="utf-8")
        text = DATE_LINE.sub(f"date: {when:%Y-%m-%d %H:%M:%S}", text, count=1)
        (source / f"post-{i:03d}.md").write_text(text, encoding="utf-8")
    (folder / "archive-a" / "broken.md").write_text("no front matter here, just text\n", encoding="utf-8")
    return dates


@pytest.fixture(scope="module")
def two_years(prefect_api, tmp_path_factory) -> dict:
    from newsetl.flows.ingest import ingest

    root = tmp_path_factory.mktemp("two-years")
    dates = two_year_corpus(root / "posts")
    config = config_from_dict({
        "warehouse": "wh.duckdb", "images": {"enabled": False}, "timezone": "UTC",
        "sources": [{"type": "hexo_dir", "name": "archive-a", "path": "posts/archive-a"},
                    {"type": "hexo_dir", "name": "archive-b", "path": "posts/archive-b"}],
    }, base_dir=root)
    summary = ingest(config)
    (root / "newsetl.yaml").write_text(f"warehouse: {root / 'wh.duckdb'}\n", encoding="utf-8")
    out = root / "report.html"
    assert main(["report", "--config", str(root / "newsetl.yaml"), "--out", str(out)]) == 0
    return {"root": root, "dates": dates, "summary": summary, "html": out.read_text(encoding="utf-8"), "out": out,
            "warehouse": root / "wh.duckdb"}


def test_buckets_follow_the_span():
    assert bucket_for((date(2022, 1, 1), date(2022, 1, 31))) == "day"
    assert bucket_for((date(2022, 1, 1), date(2022, 3, 3))) == "day"      # 62 days
    assert bucket_for((date(2022, 1, 1), date(2022, 3, 4))) == "week"
    assert bucket_for((date(2022, 1, 1), date(2022, 12, 31))) == "week"   # 365 days
    assert bucket_for((date(2021, 1, 1), date(2022, 12, 31))) == "month"
    assert bucket_for(None) == "day"


def test_time_axis_covers_two_years_by_month_with_gaps(two_years):
    html = two_years["html"]
    assert two_years["summary"]["rejected"] == 1
    assert "<h2>Articles per month per source</h2>" in html
    chart = html[html.index("id='chart-articles-over-time'"):]
    chart = chart[:chart.index("</svg>")]
    slots = re.findall(r"<g class='slot' data-label='([^']+)' data-total='([^']+)'>", chart)
    months = [f"{y}-{m:02d}" for y in (2021, 2022) for m in range(1, 13)]
    assert [label for label, _ in slots] == months                      # the whole range, every month once
    totals = dict(slots)
    assert all(totals[m] == "0" for m in GAP)                           # the gap is on the axis, empty
    assert all(totals[m] != "0" for m in months if m not in GAP)
    assert sum(int(t) for t in totals.values()) == len(two_years["dates"])
    assert chart.count("class='gap'") == len(GAP)                        # drawn as marks on the baseline
    ticks = re.findall(r"<text class='tick'[^>]*>([^<]+)</text>", chart)
    assert ticks[0] == "2021-01" and ticks[-1] == "2022-12"
    assert ">articles per month</text>" in chart and ">month, UTC, by publication date</text>" in chart
    assert '<p class="meta" id="time-range">2021-01-15 to 2022-12-20 · 24 months' in html


def test_every_chart_names_its_units(two_years):
    html = two_years["html"]
    for chart_id, unit in (("chart-articles-over-time", "articles per month"),
                           ("chart-top-keywords", "articles with the term among their 10 top TF-IDF terms"),
                           ("chart-duplicate-stories", "articles telling the story"),
                           ("chart-latest-runs", "inputs per run"),
                           ("chart-image-outcomes", "image URLs")):
        chart = html[html.index(f"id='{chart_id}'"):]
        assert f"class='axis-title" in chart[:chart.index("</svg>")] and f">{unit}</text>" in chart, chart_id


def test_rejects_section_lists_reasons_and_latest_examples(two_years):
    html = two_years["html"]
    section = html[html.index('<section id="rejects">'):]
    section = section[:section.index("</section>")]
    reasons = re.findall(r"<tr><td>(\w+)</td><td>([^<]+)</td><td class=\"num\">(\d+)</td>", section)
    assert len(reasons) == 1 and reasons[0][0] == "parse" and reasons[0][2] == "1"
    assert "<td>archive-a</td><td class=\"locator\">broken.md</td><td>parse</td>" in section
    assert reasons[0][1] in section.split('id="latest-rejects"')[1]


def test_keywords_have_no_latin_fragments(two_years):
    con = duckdb.connect(str(two_years["warehouse"]), read_only=True)
    try:
        terms = {row[0] for row in con.execute("SELECT DISTINCT term FROM article_tokens").fetchall()}
    finally:
        con.close()
    assert {"ai", "ap", "ate", "cp", "cpu", "the", "for", "it"} & terms == set()
    latin = [t for t in terms if t.isascii()]
    assert latin and all(sum(c.isalpha() for c in t) >= 4 for t in latin)
    assert "篮球" in terms and "裁判" in terms


def test_two_year_report_in_chromium(chromium, two_years, tmp_path):  # noqa: F811
    result = browse(chromium, two_years["out"], tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0 and console_messages(result.stderr) == []
    dom = result.stdout
    assert ">2021-01</text>" in dom and ">2022-12</text>" in dom
    shot = tmp_path / "shot.png"
    result = browse(chromium, two_years["out"], tmp_path / "profile2", f"--screenshot={shot}",
                    "--window-size=900,900")
    assert result.returncode == 0 and shot.exists()
    image = Image.open(shot).convert("RGB")
    colors = dict((rgb, count) for count, rgb in image.getcolors(maxcolors=1 << 20))
    assert colors.get((0x4E, 0x79, 0xA7), 0) > 200 and colors.get((0xF2, 0x8E, 0x2B), 0) > 200  # both sources
    assert colors.get((0xBB, 0xBB, 0xBB), 0) >= 4 * 2                                          # gap marks


def test_images_split_fetched_failed_and_refused_by_policy(tmp_path, server, pics):
    """Real fetches from a local server: one image stored, one 404; a private address refused by the SSRF guard
    (never contacted) is not a failure, and a host with nothing tried shows no success rate, not 0 %."""
    from newsetl.images.pipeline import run_images

    server.route("/ok.png", Reply(200, body=pics["badge.png"]))
    server.route("/missing.png", Reply(404, body=b"not here", content_type="text/plain"))
    config = make_config(tmp_path, server=server)
    con = open_warehouse(config)
    try:
        add_article(con, "a.md", [server.url("/ok.png"), server.url("/missing.png"), "http://10.1.2.3/x.png",
                                  "http://10.1.2.3/y.png"])
        result = run_images(con, config)
        data = collect(con, ReportingConfig())
    finally:
        con.close()
    assert (result.fetched, result.failed, result.skipped) == (1, 1, 2)
    assert data.images == [("10.1.2.3", 2, 0, 0, 2, 0), ("127.0.0.1", 2, 1, 1, 0, 0)]
    html = render(data)
    rows = re.findall(r"<tr><td>([\d.]+)</td>((?:<td class=\"num\">[^<]*</td>)+)</tr>", html)
    cells = {host: re.findall(r"<td class=\"num\">([^<]*)</td>", tds) for host, tds in rows}
    assert cells["10.1.2.3"] == ["2", "0", "0", "2", "0", "none tried"]
    assert cells["127.0.0.1"] == ["2", "1", "1", "0", "0", "50 %"]
    assert "Refused by policy" in html and ">refused by policy</text>" in html
