"""`body_html` is sanitized by nh3 with an explicit allow-list; the text and paragraphs never change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from newsetl.flows.ingest import ingest
from newsetl.posts.sanitize import sanitize_html
from tests.conftest import FIXTURES, POSTS
from tests.helpers import make_config, rows

POST = "新媒体/IT 之家/分类资讯/12306 App 上新：已支持买船票，轻松跨越琼州海峡.md"
FIRST_P = "<p data-vmark=\"38cf\">"
HOSTILE = ('<p style="color:red" onclick="steal()">注入段落<a href="javascript:alert(1)">点此</a>'
           '<a href=" JaVaScRiPt:alert(2)">再点</a><a href="data:text/html,<script>alert(3)</script>">数据</a>'
           '<img src="https://img.example/x.png" onerror="alert(4)"></p>'
           '<svg onload="alert(5)"><script>alert(6)</script><circle r="1"/></svg><math><mi>x</mi></math>'
           '<form action="https://evil.example/"><input name="q"><button>发送</button></form>')


@pytest.mark.parametrize("html, expected", [
    ('<p onclick="x()" style="color:red">hi</p>', "<p>hi</p>"),
    ('<a href="javascript:alert(1)">a</a><a href="JaVaScRiPt:alert(1)">b</a><a href="java&#x09;script:x">c</a>',
     "<a>a</a><a>b</a><a>c</a>"),
    ('<a href="vbscript:msgbox(1)">v</a><img src="javascript:x">', "<a>v</a><img>"),
    ('<svg onload="x()"><script>alert(1)</script><text>t</text></svg><math><mi>x</mi></math><p>ok</p>',
     "<p>ok</p>"),
    ('<iframe src="https://evil.example/"></iframe><object data="x.swf"></object><p>after</p><!-- c -->',
     "<p>after</p>"),
    ('<style>p{color:red}</style><noscript><p>n</p></noscript><template><p>t</p></template><p>t</p>', "<p>t</p>"),
    ('<img src="data:image/png;base64,iVBO" alt="a"><img src="data:image/svg+xml;base64,PHN2Zz4=">'
     '<a href="data:text/html,x">d</a>', '<img src="data:image/png;base64,iVBO" alt="a"><img><a>d</a>'),
    ('<a href="https://x.org/a?b=1&amp;c=2" title="t" target="_blank" rel="opener">h</a><a href="/rel">r</a>'
     '<a href="mailto:a@b.org">m</a>',
     '<a href="https://x.org/a?b=1&amp;c=2" title="t">h</a><a href="/rel">r</a><a href="mailto:a@b.org">m</a>'),
    ('<table><tr><td colspan="2" style="x" class="c">c</td></tr></table>',
     '<table><tbody><tr><td colspan="2">c</td></tr></tbody></table>'),
    ("<p>&lt;script&gt;alert(1)&lt;/script&gt; 你好 &amp; “引号”</p>",
     "<p>&lt;script&gt;alert(1)&lt;/script&gt; 你好 &amp; “引号”</p>"),
    ('<div id="x" class="y"><span>s</span><font color="red">f</font><strong>b</strong></div>',
     "<div>sf<strong>b</strong></div>"),
])
def test_allow_list(html: str, expected: str) -> None:
    assert sanitize_html(html) == expected


def test_generator_reference_rows_are_fixed_points() -> None:
    """The generator's 29 reference articles (as ingested before the sanitizer) come out byte-identical."""
    reference = json.loads((FIXTURES / "hexo" / "generator_rows.json").read_text(encoding="utf-8"))
    assert len(reference) == 29
    changed = [key for key, row in reference.items() if sanitize_html(row["body_html"] or "") != (row["body_html"] or "")]
    assert changed == []


def test_hostile_post_through_the_flow_keeps_its_text(tmp_path: Path, warehouse_path: Path) -> None:
    folder = tmp_path / "posts"
    target = folder / POST
    target.parent.mkdir(parents=True)
    text = (POSTS / POST).read_text(encoding="utf-8")
    assert text.count(FIRST_P) == 1
    target.write_text(text.replace(FIRST_P, HOSTILE + FIRST_P), encoding="utf-8")
    clean_dir = tmp_path / "clean"
    (clean_dir / POST).parent.mkdir(parents=True)
    shutil.copyfile(POSTS / POST, clean_dir / POST)

    summary = ingest(make_config(tmp_path, warehouse_path, [{"type": "hexo_dir", "name": "hostile", "path": str(folder)},
                                                            {"type": "hexo_dir", "name": "clean", "path": str(clean_dir)}]))
    assert (summary["status"], summary["new"], summary["rejected"]) == ("completed", 2, 0)
    (html, body), = rows(warehouse_path, "SELECT body_html, body_text FROM articles WHERE source = 'hostile'")
    for bad in ("javascript", "JaVaScRiPt", "data:text", "<svg", "<math", "<script", "<form", "<input",
                "onclick", "onerror", "onload", "style=", "alert("):
        assert bad not in html, bad
    assert "<p>注入段落<a>点此</a><a>再点</a><a>数据</a><img src=\"https://img.example/x.png\"></p>" in html
    (clean_body,), = rows(warehouse_path, "SELECT body_text FROM articles WHERE source = 'clean'")
    assert body.startswith("注入段落点此再点数据")  # the injected paragraph's text is kept ...
    assert clean_body in body and "alert" not in body  # ... and the real article's text is all there
    paragraphs = rows(warehouse_path, "SELECT p.text FROM paragraphs p JOIN articles a USING (article_id) "
                                      "WHERE a.source = 'clean' ORDER BY position")
    hostile_paragraphs = rows(warehouse_path, "SELECT p.text FROM paragraphs p JOIN articles a USING (article_id) "
                                              "WHERE a.source = 'hostile' ORDER BY position")
    assert hostile_paragraphs[-len(paragraphs):] == paragraphs
