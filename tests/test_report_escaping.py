"""The HTML report escapes every value: script tags planted in titles, categories, editors, sources, keywords,
story titles, reject reasons and run data never appear raw in the page (issue 11)."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

from newsetl.cli import main
from newsetl.config import ReportingConfig, config_from_dict
from newsetl.reporting.report import ReportData, render

TAG = re.compile(r"<\s*/?\s*(script|img|svg\s+onload|iframe)\b", re.IGNORECASE)
POST = """---
title: '{title}'
date: 2022-03-0{day} 10:00:00
categories:
  - '<script>alert("category")</script>'
  - 金融
---
<p>{body}</p>
<p>责任编辑：&lt;script&gt;editor&lt;/script&gt;</p>
"""
BODY = ("国家统计局今天公布的数据显示，上海市房地产开发投资同比下降百分之十八，商品房销售面积同比下降百分之四十，"
        "新开工面积继续减少，市场观望情绪浓厚。")


def planted(where: str) -> str:
    return f'<script>alert("{where}")</script>'


def assert_escaped(html: str, *wheres: str) -> None:
    """No planted tag is in the page raw, and each planted value is there escaped (so it was shown)."""
    body = html.split("<body>", 1)[1]
    assert not TAG.search(body), TAG.search(body)
    for where in wheres:
        assert f"&lt;script&gt;alert(&#34;{where}&#34;)&lt;/script&gt;" in body, where


def test_render_escapes_every_field():
    """Every field of the page, planted directly: tables, chart labels, legends, hover titles, notes."""
    s = planted
    data = ReportData(
        generated_at=s("generated"),
        totals={s("total"): 1},
        bucket="day", span=(date(2022, 3, 1), date(2022, 3, 2)), buckets=[s("bucket"), "2022-03-02"],
        per_source={s("source"): [1, 0]},
        images=[(s("host"), 3, 1, 1, 1, 0)],
        keywords=[(s("keyword"), 4)],
        stories=[(s("story"), 2, s("story-sources"), s("first"), 0.9)],
        runs=[(s("run-id"), s("run-start"), s("status"), 1.5, 1, 1, 0, 0, 0, 0)],
        reject_reasons=[(s("stage"), s("reason"), 2, 1, s("last"))],
        latest_rejects=[(s("seen"), s("reject-source"), s("locator"), "parse", s("error"))],
        latest_articles=[(s("published"), s("article-source"), s("title"), s("categories"), s("editor"))],
        categories=[(s("category"), 1)], editors=[(s("top-editor"), 1)],
    )
    html = render(data)
    assert_escaped(html, "generated", "total", "bucket", "source", "host", "keyword", "story", "story-sources",
                   "first", "run-start", "status", "stage", "reason", "last", "seen", "reject-source", "locator",
                   "error", "published", "article-source", "title", "categories", "editor", "category", "top-editor")
    assert 'title="&lt;script&gt;alert(&#34;run-id&#34;)&lt;/script&gt;"' in html
    no_images = ReportData(generated_at="now", totals={}, image_note=s("note"))
    assert_escaped(render(no_images), "note")


def test_report_of_a_hostile_warehouse_escapes_titles_categories_editors_sources_and_stories(prefect_api, tmp_path):
    """Posts with script tags in the title, categories and editor line, under a source named with one, twice
    (a duplicate story), through the real flow and `newsetl report`."""
    from newsetl.flows.ingest import ingest

    folder = tmp_path / "posts"
    folder.mkdir()
    for day in (1, 2):
        (folder / f"post{day}.md").write_text(POST.format(title=planted("title"), day=day, body=BODY),
                                              encoding="utf-8")
    config = config_from_dict({"warehouse": "wh.duckdb", "images": {"enabled": False},
                               "sources": [{"type": "hexo_dir", "name": planted("source"), "path": "posts"}]},
                              base_dir=tmp_path)
    summary = ingest(config)
    assert (summary["status"], summary["new"]) == ("completed", 2)
    (tmp_path / "newsetl.yaml").write_text(f"warehouse: {tmp_path / 'wh.duckdb'}\n", encoding="utf-8")
    out = tmp_path / "report.html"
    assert main(["report", "--config", str(tmp_path / "newsetl.yaml"), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert_escaped(html, "title", "source", "category")
    assert "<td>&lt;script&gt;editor&lt;/script&gt;</td>" in html
    # the planted title is the duplicate story's title too (in the chart and in the table)
    assert html.count("&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;") >= 4
    assert ReportingConfig().top_keywords > 0 and "id='chart-top-keywords'" in html
