"""Feeds as they are in the wild: a sample of feedparser's own test suite through the real ingest flow, JSON
Feed as a third format, and the item repairs (derived titles, stable ids, headline-only articles)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import lxml.html
import pytest
from tests.feedparser_site import SuiteSite, suite_files
from tests.helpers import make_config, rows

from newsetl.errors import RejectError
from newsetl.feeds.build import build_feed
from newsetl.feeds.items import parse_feed, stable_id
from newsetl.flows.ingest import ingest

SAMPLE = Path(__file__).parent / "fixtures" / "feedparser" / "tests"
GENERATOR = Path(__file__).parent / "fixtures" / "generator"
HTTP = {"retries": 0, "backoff": 0.01, "concurrency": 16}


def serving(port: int) -> dict:
    """HTTP settings that allow the local server on `port` of 127.0.0.1, and no other port there."""
    return {**HTTP, "allow_hosts": [f"127.0.0.1:{port}"]}


def readable(entry: feedparser.FeedParserDict) -> bool:
    """An entry feedparser recovered with something to read: a title or visible text."""
    html = " ".join([entry.get("summary") or ""] + [c.get("value") or "" for c in entry.get("content") or []])
    text = lxml.html.fragment_fromstring(html, create_parent="div").text_content() if html.strip() else ""
    return bool((entry.get("title") or "").strip() or text.strip())


def name_of(path: Path) -> str:
    return "fp-" + path.relative_to(SAMPLE).as_posix().replace("/", "-").removesuffix(".xml")


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The vendored sample served with its declared headers, one feed source per file, one real flow run."""
    tmp = tmp_path_factory.mktemp("suite")
    site = SuiteSite.start(SAMPLE.parent)
    try:
        files = suite_files(SAMPLE)
        urls = {name_of(p): site.url(p) for p in files}
        reference = {name: feedparser.parse(url) for name, url in urls.items()}
        warehouse = tmp / "w.duckdb"
        config = make_config(tmp, warehouse, [{"type": "feed", "name": n, "urls": [u]} for n, u in urls.items()],
                             http=serving(site.server.server_port))
        summary = ingest(config)
    finally:
        site.stop()
    return {"urls": urls, "reference": reference, "warehouse": warehouse, "summary": summary}


def test_accounting_no_item_lost_without_a_reject(suite_run: dict) -> None:
    w, run_id = suite_run["warehouse"], suite_run["summary"]["run_id"]
    loaded = dict(rows(w, "SELECT source, count(*) FROM articles GROUP BY source"))
    rejected = dict(rows(w, "SELECT source, count(*) FROM rejects WHERE stage IN ('parse', 'clean') GROUP BY source"))
    duplicates = dict(rows(w, "SELECT source, sum(count) FROM feed_warnings WHERE kind = 'duplicate guid' GROUP BY source"))
    lost = {name: len(ref.entries) - loaded.get(name, 0) - rejected.get(name, 0) - duplicates.get(name, 0)
            for name, ref in suite_run["reference"].items()}
    assert {name: n for name, n in lost.items() if n} == {}
    recoverable = [name for name, ref in suite_run["reference"].items() if any(map(readable, ref.entries))]
    assert [name for name in recoverable if not loaded.get(name)] == []
    assert sum(len(ref.entries) for ref in suite_run["reference"].values()) == \
        sum(loaded.values()) + sum(rejected.values()) + sum(duplicates.values())
    assert rows(w, "SELECT count(*) FROM feed_warnings WHERE run_id = ? AND kind = 'recovered'", [run_id])[0][0] > 0


def test_item_html_variants_roles_and_bases() -> None:
    data = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>t</title><link>https://site.example/</link>
<item><title>both</title><link>/a/1.html</link><description>short teaser</description>
  <content:encoded><![CDATA[<p>The full text.</p><p><img src="img/1.jpg"></p>]]></content:encoded>
  <media:thumbnail url="https://cdn.example/t.jpg"/>
  <media:content url="https://cdn.example/m.jpg" medium="image"/>
  <media:content url="https://cdn.example/v.mp4" medium="video"/>
  <enclosure url="/e.png" type="image/png" length="1"/>
  <enclosure url="/a.mp3" type="audio/mpeg" length="1"/>
</item></channel></rss>"""
    post = parse_feed(data, source="s", categories=[], feed_url="https://feeds.example/x/rss.xml").posts[0]
    assert post.body_html == '<p>The full text.</p><p><img src="img/1.jpg"></p>'  # content:encoded, not the teaser
    assert post.url == "https://feeds.example/a/1.html"  # relative link: against the feed URL
    assert (post.thumbnail, post.media) == ("https://cdn.example/t.jpg", [
        ("media", "https://cdn.example/m.jpg"), ("enclosure", "https://feeds.example/e.png")])
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/blog/">
<title>a</title>
<entry><title>text</title><id>urn:1</id><link href="posts/1"/><content type="text">a &lt; b &amp; c

second</content></entry>
<entry><title>xhtml</title><id>urn:2</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x<b>y</b></p></div></content></entry>
<entry><title>html</title><id>urn:3</id><content type="html">&lt;p&gt;z&lt;/p&gt;</content></entry>
</feed>"""
    posts = parse_feed(atom, source="s", categories=[], feed_url="https://feeds.example/atom.xml").posts
    assert [(p.title, p.body_html) for p in posts] == [
        ("text", "<p>a &lt; b &amp; c</p><p>second</p>"), ("xhtml", "<p>x<b>y</b></p>"), ("html", "<p>z</p>")]
    assert (posts[0].url, posts[0].base_url) == ("https://base.example/blog/posts/1", "https://base.example/blog/")


def test_json_feed_items_take_the_same_path() -> None:
    data = json.dumps({
        "version": "https://jsonfeed.org/version/1", "title": "j", "home_page_url": "https://j.example/",
        "author": {"name": "Feed Author"},
        "items": [
            {"id": 7, "url": "/p/7", "content_text": "第一句话。第二句话。", "date_published": "2022-03-21T20:00:26+08:00",
             "tags": ["金融"], "image": "/i/7.jpg",
             "attachments": [{"url": "https://j.example/a.png", "mime_type": "image/png"},
                             {"url": "https://j.example/a.mp3", "mime_type": "audio/mpeg"}]},
            {"title": "no body", "url": "https://j.example/p/8"},
            {"date_published": "2022-03-22T00:00:00Z"},
            "not an object",
        ]}, ensure_ascii=False).encode()
    result = parse_feed(data, source="s", categories=[], content_type="application/feed+json",
                        feed_url="https://j.example/feed.json")
    first, second = result.posts
    assert (first.locator, first.title, first.url, first.author, first.categories, first.repairs) == (
        "7", "第一句话。", "https://j.example/p/7", "Feed Author", ["金融"], ["title from text"])
    assert first.body_html == "<p>第一句话。第二句话。</p>"
    assert first.published_at == datetime(2022, 3, 21, 12, 0, 26, tzinfo=timezone.utc)
    assert (first.thumbnail, first.media) == ("https://j.example/i/7.jpg", [("enclosure", "https://j.example/a.png")])
    assert (second.locator, second.title, second.body_html) == ("https://j.example/p/8", "no body", "")
    assert [(r.locator, r.error) for r in result.rejects] == [
        ("item #3", "item has no title and no text"), ("item #4", "item is not a JSON object")]
    with pytest.raises(RejectError, match="not a JSON Feed: invalid JSON"):
        parse_feed(b"{nope", source="s", categories=[], content_type="application/json")


def test_json_feed_through_the_flow(httpserver, tmp_path: Path, warehouse_path: Path) -> None:
    posts = sorted((GENERATOR / "huxiu").glob("*.md")) + sorted((GENERATOR / "cnbeta").glob("*.md"))
    body = build_feed(posts, fmt="json", title="generator", link_base="https://gen.example/p/")
    assert json.loads(body)["version"] == "https://jsonfeed.org/version/1.1"
    httpserver.expect_request("/feed.json").respond_with_data(body, content_type="application/feed+json")
    config = make_config(tmp_path, warehouse_path, [{"type": "feed", "name": "json", "urls": [f"http://127.0.0.1:{httpserver.port}/feed.json"]}],
                         http=serving(httpserver.port))
    assert ingest(config)["status"] == "completed"
    assert rows(warehouse_path, "SELECT title, author, origin, headline_only, categories FROM articles ORDER BY title") == [
        ("00后也开始抢茅台了", "谭丽平", "中国企业家杂志", False, ["新媒体", "虎嗅", "首页资讯"]),
        ("100亿，雷军新投资动作来了", "cnBeta", None, False, ["新媒体", "cnBeta", "最新"]),
        ("为何商家执意让你办卡？", "虎嗅", None, True, ["新媒体", "虎嗅", "作者"]),
    ]
    # the item `image` is the thumbnail; where it is also a body picture it is that picture, with both roles
    assert rows(warehouse_path, "SELECT role, roles, count(*) FROM article_images GROUP BY ALL ORDER BY ALL") == [
        ("body", ["body"], 4), ("body", ["body", "headimg", "thumbnail"], 2), ("headimg", ["headimg", "thumbnail"], 1)]


@pytest.mark.parametrize(("name", "title"), [
    ("fp-illformed-chardet-gb2312", "不归移民漫画系列：专业工作"),
    ("fp-illformed-chardet-eucjp", "ゲーム三昧な正月"),
    ("fp-illformed-chardet-euckr", "EUC-KR 에서 TypeKey 한글닉네임 표시하기"),
    ("fp-illformed-chardet-shiftjis", "DrecomRSSに記事投稿が反映されない…"),
    ("fp-illformed-chardet-koi8r", "Как пережить новогоднюю ночь"),
    ("fp-wellformed-rss-item_content_encoded", "Example content"),
    ("fp-wellformed-rss-item_description", "Example description"),   # title from its text
    ("fp-wellformed-media-rss-media_thumbnail", "Example Atom"),
    ("fp-encoding-bozo_double-encoded-html", "…"),                   # recovered from a malformed document
])
def test_chosen_items_exact_titles(suite_run: dict, name: str, title: str) -> None:
    assert rows(suite_run["warehouse"], "SELECT title FROM articles WHERE source = ?", [name]) == [(title,)]


def test_undeclared_charsets_are_detected_and_recorded(suite_run: dict) -> None:
    w = suite_run["warehouse"]
    assert rows(w, "SELECT source, message FROM feed_warnings WHERE source LIKE 'fp-illformed-chardet-%' "
                   "AND kind = 'recovered' ORDER BY source") == [
        (f"fp-illformed-chardet-{name}", f"charset not declared or wrong: read as {charset} (detected)")
        for name, charset in [("big5", "big5"), ("eucjp", "euc-jp"), ("euckr", "euc-kr"), ("gb2312", "gb2312"),
                              ("koi8r", "koi8-r"), ("shiftjis", "shift_jis"), ("tis620", "tis-620"),
                              ("windows1255", "windows-1255")]]
    assert rows(w, "SELECT i.role, i.roles, i.url FROM article_images i JOIN articles a USING (article_id) "
                   "WHERE a.source = 'fp-wellformed-media-rss-media_thumbnail'") == [
        ("headimg", ["headimg", "thumbnail"], "http://example.com/thumbnail.jpg")]  # media:thumbnail
    assert rows(w, "SELECT repairs, headline_only FROM articles WHERE source = 'fp-wellformed-rss-item_description'") \
        == [(["title from text", "id from feed URL and content"], False)]


def test_stray_markup_declaration_is_text_and_lone_doctype_is_empty() -> None:
    # feedparser's wellformed/rss/item_description_not_a_doctype.xml: "<!'" is text, not lxml's bogus comment
    feed = b"<rss><channel><item><description>&lt;!' &lt;a href=\"foo\"&gt;</description></item>" \
           b"<item><description>&lt;!DOCTYPE</description></item></channel></rss>"
    result = parse_feed(feed, source="s", categories=[], feed_url="http://127.0.0.1/f.xml")
    assert [(p.title, p.body_html) for p in result.posts] == [("<!", "&lt;!' <a href=\"foo\">")]
    assert [(r.locator, r.error) for r in result.rejects] == [("item #2", "item has no title and no text")]
