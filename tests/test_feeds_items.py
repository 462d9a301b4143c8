"""Feed documents -> ParsedPosts, and charset decoding of fetched post files (no network needed)."""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path

import pytest

from newsetl.errors import RejectError
from newsetl.feeds.build import build_feed
from newsetl.feeds.decode import decode_body
from newsetl.feeds.items import parse_feed
from newsetl.models import article_id_for

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
SINA = ["金融", "新浪财经", "新浪财经－国內"]
GH = "https://github.com/Rock-Candy-Tea/RSSHUB-PAGE/blob/HEAD/source/_posts/"


def test_rss_utf8_items_keep_raw_html_and_utc_dates() -> None:
    result = parse_feed((FIXTURES / "sina.rss.xml").read_bytes(), source="sina", categories=SINA,
                        content_type="application/rss+xml")
    assert result.version == "rss20"
    assert [p.title for p in result.posts] == [
        "1-2月31个省市区一般公共预算收入全部正增长", "100万吨国家钾肥储备投放保春耕", "1049元_斤！天价荔枝什么来头？"]
    post = result.posts[1]
    assert post.published_at == datetime(2022, 3, 21, 12, 0, 26, tzinfo=timezone.utc)
    assert post.author == "新浪财经"
    assert post.categories == SINA
    assert post.url.startswith(GH + "%E9%87%91%E8%9E%8D/") and post.url.endswith("%E6%98%A5%E8%80%95.md")
    assert post.locator == post.url  # guid isPermaLink
    assert post.article_id == article_id_for("sina", post.url)
    # Raw HTML: the sanitiser did not strip the boilerplate newsetl's cleaning must see.
    assert "<style>" in post.body_html and "<!-- 文末二维码 start -->" in post.body_html
    assert ".appendQr_wrap{border:1px solid #E6E6E6" in post.body_html
    assert 'referrerpolicy="no-referrer"' in post.body_html
    assert result.rejects == []


def test_gbk_rss_is_decoded_from_the_xml_declaration() -> None:
    data = (FIXTURES / "sina_gbk.rss.xml").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = parse_feed(data, source="sina", categories=SINA, content_type="application/xml")
    assert [p.title for p in result.posts] == [
        '"大连日本风情街"引争议，官方回应', "1-7月宁夏扩大有效投资重大项目推进情况_展示台__曝光台_",
        "AI 篮球裁判火了，走步算得特别准，就问哈登慌不慌"]
    assert "原标题：“大连日本风情街”引争议，官方回应" in result.posts[0].body_html
    assert result.posts[2].published_at == datetime(2022, 7, 31, 6, 13, 25, tzinfo=timezone.utc)


def test_atom_entries_and_item_categories_when_no_path_is_configured() -> None:
    result = parse_feed((FIXTURES / "36kr.atom.xml").read_bytes(), source="36kr", categories=[])
    assert result.version == "atom10"
    assert [p.title for p in result.posts] == ["100亿，海南一支母基金招GP", "10亿，又一笔PE投资落定"]
    first = result.posts[0]
    assert first.categories == ["新媒体", "36kr", "资讯"]
    assert first.published_at == datetime(2022, 5, 9, 7, 29, 54, tzinfo=timezone.utc)
    assert first.body_html.startswith("<div>") and "<p>100亿母基金要出资了。</p>" in first.body_html


def test_item_hash_changes_with_content_only() -> None:
    posts = sorted(FIXTURES.glob("posts/100万吨*.md"))
    one = parse_feed(build_feed(posts, fmt="rss", title="t", link_base="https://h/"), source="s", categories=[])
    two = parse_feed(build_feed(posts, fmt="rss", title="t", link_base="https://h/"), source="s", categories=[])
    assert one.posts[0].file_hash == two.posts[0].file_hash
    edited = build_feed(posts, fmt="rss", title="t", link_base="https://h/").replace("记者安蓓".encode(), "记者".encode())
    three = parse_feed(edited, source="s", categories=[])
    assert three.posts[0].file_hash != one.posts[0].file_hash
    assert three.posts[0].article_id == one.posts[0].article_id


def test_items_are_repaired_and_only_empty_ones_rejected() -> None:
    data = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>ok</title><guid isPermaLink="false">g1</guid><description>&lt;p&gt;x&lt;/p&gt;</description></item>
      <item><description>no identity</description></item>
      <item><link>https://h/notitle</link><description>y</description></item>
      <item><title>dup</title><guid isPermaLink="false">g1</guid></item>
      <item><guid isPermaLink="false">g9</guid></item>
    </channel></rss>"""
    result = parse_feed(data, source="s", categories=[], feed_url="https://h/feed.xml")
    no_identity = "urn:newsetl:" + stable_id_of(result, "no identity")
    assert [(p.locator, p.title, p.url, p.body_html, p.repairs) for p in result.posts] == [
        ("g1", "ok", None, "<p>x</p>", []),
        (no_identity, "no identity", None, "no identity", ["title from text", "id from feed URL and content"]),
        ("https://h/notitle", "y", "https://h/notitle", "y", ["title from text"])]
    assert (result.entries, result.duplicates) == (5, 1)
    assert [(r.locator, r.stage, r.error) for r in result.rejects] == [("g9", "parse", "item has no title and no text")]
    again = parse_feed(data, source="s", categories=[], feed_url="https://h/feed.xml")
    assert again.posts[1].locator == no_identity  # stable: the same feed URL and content give the same id
    other = parse_feed(data, source="s", categories=[], feed_url="https://h/other.xml")
    assert other.posts[1].locator != no_identity


def stable_id_of(result, title: str) -> str:
    return next(p.locator for p in result.posts if p.title == title).removeprefix("urn:newsetl:")


@pytest.mark.parametrize(("data", "content_type", "reason"), [
    (b"<!DOCTYPE html><html><body><p>Not found</p></body></html>", "text/html; charset=utf-8",
     "not an RSS/Atom feed: got an HTML page (text/html)"),
    (b"<?xml version='1.0'?><foo><bar></foo>", "application/rss+xml", "malformed XML: mismatched tag at line 1"),
    (b"", "application/rss+xml", "not an RSS/Atom feed: empty response body"),
    (b'{"items": []}', "application/json", "not a JSON Feed: no jsonfeed.org version"),
    (b"plain words", "text/plain", "not an RSS/Atom feed: the body is not XML (text/plain)"),
    (b"<?xml version='1.0'?><urlset/>", "application/xml", "not an RSS/Atom feed: no rss, rdf or feed root element"),
])
def test_unusable_documents_raise_one_line_rejects(data: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(RejectError) as caught:
        parse_feed(data, source="s", categories=[], content_type=content_type)
    assert (caught.value.stage, caught.value.reason) == ("parse", reason)


def test_decode_body_prefers_declared_charset_then_detects() -> None:
    text = (FIXTURES / "posts" / "100万吨国家钾肥储备投放保春耕.md").read_text(encoding="utf-8")
    assert decode_body(text.encode("gb18030"), "GB2312", ["utf-8"]) == (text, "gb18030")
    assert decode_body(text.encode("gb18030"), None, ["utf-8"]) == (text, "gb18030")
    assert decode_body(text.encode("utf-8"), "iso-8859-1", ["utf-8"]) == (text, "utf-8")
    assert decode_body("國內新聞".encode("big5"), "big5", ["utf-8"]) == ("國內新聞", "big5hkscs")
    with pytest.raises(RejectError, match="not a text file"):
        decode_body(b"\x89PNG\x00\x00", "utf-8", ["utf-8"])


def test_big5_feed_from_the_xml_declaration() -> None:
    posts = sorted(FIXTURES.glob("posts/100万吨*.md"))
    data = build_feed(posts, fmt="rss", title="t", link_base="https://h/", encoding="big5")
    assert data.startswith(b"<?xml version='1.0' encoding='BIG5'?>")
    result = parse_feed(data, source="s", categories=[])
    assert [p.title for p in result.posts] == ["100万吨国家钾肥储备投放保春耕"]
    # Characters Big5 lacks were written as numeric references, which HTML reads as the same characters.
    assert "&#22269;家&#21457;展改革委" in result.posts[0].body_html
    assert "近日国家发展改革委、财政部联合印发通知" in html.unescape(result.posts[0].body_html)
