"""Parse and clean steps on the real posts: exact metadata, text, images, and no boilerplate left."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsetl.errors import RejectError
from newsetl.models import Article, InputRef
from newsetl.rules import load_rules
from newsetl.posts.clean import clean_post
from newsetl.posts.parse import parse_post_text
from tests.conftest import POSTS

UTC = timezone.utc
RULES = load_rules()
SINA = POSTS / "金融" / "新浪财经"


def ref(locator: str = "x.md", source: str = "test") -> InputRef:
    return InputRef(source, "hexo_dir", locator, "/nowhere", "hash", 0)


def article(path: Path, zone: str = "UTC") -> Article:
    post = parse_post_text(path.read_text(encoding="utf-8"), ref(path.name), ZoneInfo(zone))
    return clean_post(post, RULES)


def post_text(front: str, body: str = "<p>正文</p>") -> str:
    return f"\n---\n{front}\n---\n\n<div>{body}</div>\n"


# --------------------------------------------------------------------------------------------- parse
def test_rfc2822_date_and_front_matter_after_blank_line():
    post = parse_post_text(post_text("title: 'A'\ndate: Mon, 18 Jul 2022 06:30:35 GMT"), ref(), ZoneInfo("UTC"))
    assert post.title == "A"
    assert post.published_at == datetime(2022, 7, 18, 6, 30, 35, tzinfo=UTC)


def test_bare_yaml_timestamp_is_read_in_the_configured_zone():
    text = post_text("title: \"双引号标题\"\ndate: 2021-04-11 00:30:33")
    assert parse_post_text(text, ref(), ZoneInfo("UTC")).published_at == datetime(2021, 4, 11, 0, 30, 33,
                                                                                   tzinfo=UTC)
    shanghai = parse_post_text(text, ref(), ZoneInfo("Asia/Shanghai"))
    assert shanghai.published_at == datetime(2021, 4, 10, 16, 30, 33, tzinfo=UTC)
    assert shanghai.title == "双引号标题"


def test_missing_date_and_title_fall_back():
    post = parse_post_text(post_text("author: x"), ref("目录/没有标题的文章.md"), ZoneInfo("UTC"))
    assert post.published_at is None
    assert post.title == "没有标题的文章"


def test_escaped_braces_are_restored_everywhere():
    text = post_text("title: '&#123;括号&#125; 标题'", "<p>代码 &#123;a: 1&#125;</p>")
    post = parse_post_text(text, ref(), ZoneInfo("UTC"))
    assert post.title == "{括号} 标题"
    assert "{a: 1}" in post.body_html


def test_categories_author_and_images_from_front_matter():
    post = parse_post_text(SINA.joinpath("种子 seeds", "工信部 '示范基地' 445家.md").read_text(), ref(),
                           ZoneInfo("UTC"))
    assert post.categories == ["金融", "新浪财经", "新浪财经－国內"]
    assert post.author == "新浪财经"
    assert post.headimg.endswith("1d1d-0031d8254daccb79f502b977a816703e.png")


@pytest.mark.parametrize("text, reason", [
    ("<p>no front matter at all</p>", "no front matter"),
    ("---\ntitle: [unclosed\n---\n<p>x</p>", "invalid YAML front matter"),
    ("---\ntitle: fine\n---\n   \n", "empty body"),
    ("---\n- a\n- b\n---\n<p>x</p>", "front matter is not a mapping"),
    ("---\ntitle: t\ndate: someday soon\n---\n<p>x</p>", "unrecognised date"),
])
def test_bad_posts_raise_a_parse_reject(text: str, reason: str):
    with pytest.raises(RejectError) as caught:
        parse_post_text(text, ref(), ZoneInfo("UTC"))
    assert caught.value.stage == "parse"
    assert reason in caught.value.reason


# --------------------------------------------------------------------------------------------- clean
def test_sina_seed_editor_promo_and_video_removed():
    a = article(SINA / "种子 seeds" / "工信部 '示范基地' 445家.md")
    assert a.title == "工信部：已评选国家新型工业化产业示范基地445家"
    assert a.published_at == datetime(2022, 7, 18, 6, 30, 35, tzinfo=UTC)
    assert a.editor == "王翔"
    assert a.origin is None
    assert [kind for kind, _ in a.paragraphs] == ["text", "text", "text", "quote"]
    assert a.paragraphs[0][1].startswith("工信部日前公布，已分十批创建了445家")
    assert a.image_count == 2
    roles = [(i.role, sorted(i.roles)) for i in a.images]
    assert roles == [("body", ["body", "headimg", "thumbnail"]), ("body", ["body"]), ("promo", ["promo"])]
    for boilerplate in ("海量资讯", "责任编辑", "appendQr", "video", "<!--", "<style", "\u3000", "cms-style"):
        assert boilerplate not in a.body_text
        assert boilerplate not in a.body_html
    # the bold lead-in of the quote survives as <strong> inside a blockquote
    assert "<blockquote><p><strong>工业和信息化部规划司副司长 姚珺：</strong>下一步" in a.body_html


def test_origin_hidden_in_adlist_comment_and_caption_paragraph():
    a = article(SINA / "种子 seeds" / '先进制造业集群 "国家队".md')
    assert a.origin == "澎湃新闻"
    assert a.editor == "张亚楠"
    caption = "工信部围绕新一代信息技术、高端装备、新材料、生物医药等重点领域，遴选出25个先进制造业集群决赛优胜者。"
    assert a.images[1].caption == caption
    assert ("caption", caption) in a.paragraphs
    assert caption not in a.body_text
    assert a.paragraph_count == 13
    assert "本文来自" not in a.body_text


def test_origin_in_comment_with_nested_markup():
    a = article(SINA / "新浪财经－国內" / '"大连日本风情街"引争议，官方回应.md')
    assert a.origin == "楚天都市报极目新闻"
    assert a.editor == "王珊珊"
    assert "mmbiz" not in a.body_html  # image hidden in an ad comment is not an article image


def test_headimg_that_is_the_qr_promo_is_not_counted():
    a = article(SINA / "新浪财经－国內" / "1049元_斤！天价荔枝什么来头？.md")
    assert a.image_count == 0
    assert [i.role for i in a.images] == ["promo"]
    assert sorted(a.images[0].roles) == ["headimg", "promo", "thumbnail"]
    assert "欢迎关注中国新闻周刊视频号" not in a.body_text
    assert "排版：肖冉" not in a.body_text


def test_source_note_becomes_origin():
    a = article(SINA / "新浪财经－国內" / "1-7月宁夏扩大有效投资重大项目推进情况_展示台__曝光台_.md")
    assert (a.origin, a.editor) == ("宁夏日报", "李思阳")
    assert "来源：宁夏日报" not in a.body_text
    assert a.published_at == datetime(2021, 8, 30, 6, 31, 44, tzinfo=UTC)


def test_36kr_wechat_origin_notes():
    kr = POSTS / "新媒体" / "36kr" / "资讯"
    first = article(kr / "10亿，又一笔PE投资落定.md")
    second = article(kr / "100亿，海南一支母基金招GP.md")
    assert (first.origin, second.origin) == ("投资界", "解码LP")
    assert "36氪经授权发布" not in first.body_text + second.body_text
    assert second.images[1].caption == "（海南基金管理人及备案基金新增趋势 图源：PEDATA MAX）"


def test_nbd_editor_line_and_image_credit_removed():
    a = article(POSTS / "金融" / "每经网" / "分类" / "10秒06！苏炳添轻松晋级，决赛明晚举行.md")
    assert a.editor == "毕陆名"
    assert "封面图片来源" not in a.body_text
    assert a.paragraphs[0][1].startswith("据中新体育消息")
    assert a.image_count == 2
    assert a.published_at == datetime(2021, 9, 20, 20, 33, 14, tzinfo=UTC)


def test_zhihu_bare_date_avatar_and_links_removed():
    a = article(POSTS / "社交媒体" / "知乎" / "知乎日报" / "CPU 为什么很少会坏？.md")
    assert a.published_at == datetime(2022, 3, 6, 15, 9, 14, tzinfo=UTC)
    assert a.images[0].role == "decoration"
    assert a.image_count == 5
    assert [i.caption for i in a.images[1:4]] == ["图片来源于网络"] * 3
    for gone in ("查看知乎原文", "查看知乎讨论", "温戈", "想当作家"):
        assert gone not in a.body_text
    assert a.paragraphs[0] == ("text", "在计算机的一生中，CPU 坏的概率极小。正常使用的情况下，就算其他主要的电脑配件都坏了，CPU 都不会坏。")
    quotes = [text for kind, text in a.paragraphs if kind == "quote"]
    assert len(quotes) == 1 and quotes[0].startswith("DFT 指的是在芯片的设计阶段即插入各种")


def test_mentioning_a_qr_code_in_article_text_is_kept():
    a = article(POSTS / "新媒体" / "IT 之家" / "分类资讯" / "12306 App 上新：已支持买船票，轻松跨越琼州海峡.md")
    assert "可凭身份证或乘车二维码乘坐火车" in a.body_text
    assert a.image_count == 14
    assert ("heading", "如何购票？") in a.paragraphs


def test_qr_images_after_promo_markers_are_promo():
    a = article(POSTS / "新媒体" / "人人都是产品经理" / "最新文章" / "0基础入门运营，这节免费的课一定要学！.md")
    promo = [i.url.rsplit("/", 1)[1] for i in a.images if i.role == "promo"]
    assert promo == ["EWXwTsPTd3i2wVDjxGTK.png", "ZbPjZgtpinlwFOBd5cNP.jpg"]
    assert "扫描下方二维码，添加顾问老师" not in a.body_text
    assert "▼▼▼" not in a.body_text


def test_bare_text_body_and_protocol_relative_urls():
    post = parse_post_text(post_text("title: t\nlink: http://example.org/a.html",
                                     "纯文本　正文<img src='//img.example.org/x.png'>"),
                           ref(), ZoneInfo("UTC"))
    a = clean_post(post, RULES)
    assert a.body_text == "纯文本 正文"
    assert a.images[0].url == "http://img.example.org/x.png"
    no_link = clean_post(parse_post_text(post_text("title: t", "<img src='//cdn.example.org/y.png'>"), ref(),
                                         ZoneInfo("UTC")), RULES)
    assert no_link.images[0].url == "https://cdn.example.org/y.png"


def test_same_image_url_once_per_article():
    text = post_text("title: t\nheadimg: 'https://e.org/a.png'",
                     "<p>x</p><img src='https://e.org/a.png'><p>y</p><img src='https://e.org/a.png'>")
    a = clean_post(parse_post_text(text, ref(), ZoneInfo("UTC")), RULES)
    assert [(i.url, i.role, i.roles) for i in a.images] == [("https://e.org/a.png", "body", ["body", "headimg"])]


def test_cleaning_is_deterministic():
    path = SINA / "种子 seeds" / "工信部 '示范基地' 445家.md"
    assert article(path).content_hash == article(path).content_hash
