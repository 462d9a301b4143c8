"""The prepare step's shortcuts (issue 15) decide exactly what the long way decides.

- newsetl/posts/literals.py skips a regular expression when the text lacks every word a match needs: checked
  against plain `pattern.search` for every pattern of the bundled rules on every paragraph of the real posts
  and on texts built to hit the edge cases (overlapping words, a word only inside a longer one).
- promo.promo_blocks looks only above images and QR-named nodes, and stops measuring long text early;
  clean._drop_empty_blocks decides in one pass what a text_content() per block decided: both are compared
  with the straightforward versions they replaced.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from newsetl.models import InputRef
from newsetl.posts import literals, promo
from newsetl.posts.clean import BLOCK_TAGS, _drop_empty_blocks, clean_post
from newsetl.posts.limits import parse_html
from newsetl.posts.parse import parse_post_text
from newsetl.rules import load_rules
from tests.conftest import POSTS

RULES = load_rules()
COMPILED = [RULES.compiled(()), *(RULES.compiled((name,)) for name, _, _ in RULES.sites)]
PATTERN_TUPLES = [t for c in COMPILED for t in (c.note_patterns, c.credit_patterns, c.editor_patterns,
                                                   c.origin_patterns)]
SINGLE_PATTERNS = [p for c in COMPILED for p in (c.promo_shape.calls, c.promo_shape.names, c.remove_phrases,
                                                  c.promo_markers, c.promo_image_urls, c.caption_rules.words)
                   if p is not None]
EDGE_TEXTS = [
    "", " ", "编辑按", "编者按：", "（责任编辑：王五）", "本文来自微信公众号：某某（ID：abc），作者：张三，题图来自：视觉中国",
    "中证网讯（记者 黄一灵）2022年以来，市场", "文/李四", "文 / 李四 ", "审校｜赵六", "图片来源：网络", "来源：APP截图",
    "经授权转载。", "某某经授权发布", "扫描下方二维码关注", "长按识别二维码", "下载新浪财经APP", "THE END", "- THE END -",
    "作者作者：张三", "，编辑：王五", "撰文文字/某人", "头图来自：ABC，作者：D",
    "▼", "▼▼", "↓↓↓", "⬇ ⬇", "▼扫码", "扫码▼", "qrcode", "appendQr_wrap", "erweima", "来源：", "（来源:新华社）",
]


def paragraphs() -> list[str]:
    """Every paragraph text of the real posts, as the cleaner sees them."""
    texts: list[str] = []
    for path in sorted(POSTS.rglob("*.md")):
        post = parse_post_text(path.read_text(encoding="utf-8"), InputRef("t", "hexo_dir", path.name, "/x", "h", 0),
                               ZoneInfo("UTC"))
        texts.extend(text for _, text in clean_post(post, RULES).paragraphs)
        texts.extend(" ".join(p.itertext()) for p in parse_html(post.body_html).iter("p"))
    return texts


TEXTS = paragraphs() + EDGE_TEXTS


def test_needed_words_of_the_rules():
    note = {p.pattern: literals.needed(p) for p in RULES.compiled(()).note_patterns}
    assert note[next(k for k in note if "(?P<author>" in k)] == ("作者",)
    assert note[next(k for k in note if "经授权" in k)] == ("经授权",)
    assert literals.needed(re.compile("^[▼↓⬇]+$")) == ("↓", "▼", "⬇")  # one of a class of plain characters
    assert literals.needed(re.compile("^[（(]?来源[：:]")) == ("来源",)  # a word before single characters
    assert literals.needed(re.compile("[^▼]+")) is None and literals.needed(re.compile("[a-z]+")) is None
    assert literals.needed(re.compile(r"[\d.]")) is None  # a category in the class: no condition
    assert literals.needed(re.compile("(?i)qr")) is None  # case-insensitive: no condition
    assert literals.needed(re.compile("x(?i:abc)")) == ("x",)  # the scoped-flag group gives nothing
    assert literals.needed(re.compile("(?:a|)bc")) == ("bc",)  # a branch that may be empty gives nothing
    assert literals.needed(re.compile("(ab|cd)+e?")) == ("ab", "cd")


@pytest.mark.parametrize("text", TEXTS[:5] + EDGE_TEXTS)
def test_search_is_pattern_search(text):
    for pattern in SINGLE_PATTERNS + [p for t in PATTERN_TUPLES for p in t]:
        expected = pattern.search(text)
        found = literals.search(pattern, text)
        assert (found and found.span()) == (expected and expected.span()), (pattern.pattern, text)


def test_candidates_keep_every_pattern_that_matches():
    assert len(TEXTS) > 300
    admitted = 0
    for patterns in PATTERN_TUPLES:
        for text in TEXTS:
            kept = literals.candidates(patterns, text)
            assert list(kept) == [p for p in patterns if p in kept]  # in the rules' order
            matching = [p for p in patterns if p.search(text)]
            assert set(matching) <= set(kept), text
            admitted += len(kept)
    assert admitted < len(TEXTS) * sum(map(len, PATTERN_TUPLES)) / 4  # and most are skipped


def test_candidates_with_a_word_inside_a_longer_one():
    short, long_ = re.compile("编(?P<x>.)"), re.compile("编辑按")
    assert literals.candidates((long_, short), "编辑按：") == (long_, short)
    assert literals.candidates((long_, short), "主编：") == (short,)
    assert literals.candidates((long_, short), "无关") == ()


def _promo_blocks_plain(root, shape):
    """The algorithm before the shortcut: every container, top down, its whole text measured."""
    found, stack = [], list(reversed(root))
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str):
            continue
        if element.tag in promo.CONTAINERS:
            text = " ".join("".join(element.itertext()).split())
            if len(text) <= shape.max_chars:
                has_image = next(element.iter("img"), None) is not None
                call = shape.calls is not None and bool(text) and shape.calls.search(text) is not None
                named = shape.names is not None and promo._named(element, shape.names)
                if (has_image and (call or named)) or (named and call):
                    found.append(element)
                    continue
        stack.extend(reversed(element))
    return found


PROMO_HTML = [
    '<p>正文很长' + "很长" * 60 + '<img src="a.png"></p><div class="appendQr_wrap"><img src="q.png"><p>扫码下载</p></div>',
    '<div><p>短</p><div id="qrcode">扫码分享</div><section><img src="x.png" alt="erweima"></section></div>',
    '<div><span><img src="a.png"></span><p>关注公众号</p></div><p>' + "字" * 79 + '<img src="b.png"></p>',
    '<table><tr><td><img src="k.png"><a class="kaihu">开户</a></td></tr></table><p>   </p><p>\u3000</p>',
    '<div>' + "<p>长按识别</p>" * 3 + '<img src="c.png"></div><!-- 注释 --><p>扫一扫</p>',
]


@pytest.mark.parametrize("html", PROMO_HTML)
def test_promo_blocks_as_before(html):
    shape = RULES.compiled(()).promo_shape
    plain = _promo_blocks_plain(parse_html(html), shape)
    fast = promo.promo_blocks(parse_html(html), shape)
    assert [lxml.html.tostring(e) for e in fast] == [lxml.html.tostring(e) for e in plain]


def test_promo_blocks_found_on_the_real_posts_as_before():
    shape = RULES.compiled(()).promo_shape
    total = 0
    for path in sorted(POSTS.rglob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[2]
        plain = [lxml.html.tostring(e) for e in _promo_blocks_plain(parse_html(body), shape)]
        assert [lxml.html.tostring(e) for e in promo.promo_blocks(parse_html(body), shape)] == plain
        total += len(plain)
    assert total > 0  # the real posts do have QR-code blocks


def _drop_empty_plain(root):
    for element in reversed(list(root.iter())):
        if element is root or element.getparent() is None:
            continue
        if element.tag in BLOCK_TAGS and not element.text_content().strip() and \
                next(element.iter("img"), None) is None:
            element.drop_tree()


@pytest.mark.parametrize("html", [
    "<div><p> </p>tail<p><span> </span></p><div><p></p> x </div></div>",
    "<section><div><div><p>\u3000</p></div></div><p><img src='a.png'></p><ul><li></li><li>a</li></ul></section>",
    "<p>lead</p><div><br/><hr/></div><blockquote> <p> </p> </blockquote>after",
    "<table><tr><td></td><td> </td></tr></table><figure><img src='b.png'><figcaption> </figcaption></figure>",
    "<p>\u3000\xa0</p><div>\u2028<span>\x85\u205f</span></div><p>\u200b</p><li>\u2009<b>\t</b>\r\n</li>",
] + PROMO_HTML)
def test_drop_empty_blocks_as_before(html):
    plain, fast = parse_html(html), parse_html(html)
    _drop_empty_plain(plain)
    _drop_empty_blocks(fast)
    assert lxml.html.tostring(fast) == lxml.html.tostring(plain)



# -- session 5 shortcuts ---------------------------------------------------------------------------------

HINT_PIECES = ["#", "## ", " ", "\t", "\n", "\r\n", "`", "```", "~~~", "-", "*", "+ ", "1", "123456789.", ")", ">",
               "|", "!", "[", "]", "(", "](", "{%", "{%-", "x", "<!--", " more ", "-->", "<p>", "\u3000", "文"]
HINT_EDGES = ["x\n|a|\nb", "|a| \t\nb", "x\n|a|\r\nb", "<p>x</p>\n   1. item", "<p>\n    1. item", "<p>\n>q",
              "<p>a</p>\n1234567890. x", "<div>\n```", "x\n~~~", "<p>![](", "<p>[a](b c)", "<p>[a](b)", "<!--more-->",
              "<!-- MORE -->", "<p>{%- raw", "<p>{% ", "\n", "x\n", "#\tx", "####### x", "\n- x", "\n-\tx", "-x"]


def _random_texts(pieces: list[str], count: int, seed: int) -> list[str]:
    import random

    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 14))) for _ in range(count)]


def test_markdown_hints_as_the_one_regex():
    from newsetl.posts.markdown import MARKDOWN_HINTS, has_markdown_hints

    bodies = [path.read_text(encoding="utf-8").split("---", 2)[2] for path in sorted(POSTS.rglob("*.md"))]
    texts = bodies + HINT_EDGES + _random_texts(HINT_PIECES, 30_000, 5)
    found = 0
    for text in texts:
        expected = MARKDOWN_HINTS.search(text) is not None
        assert has_markdown_hints(text) == expected, repr(text)
        found += expected
    assert 3_000 < found < len(texts) - 3_000  # both answers are well represented


YAML_PIECES = ["a", "b: ", ":", ": ", "? ", "?", "- ", "-", "[", "]", "{", "}", ",", " ", "\n", "\n  ", "\n    ",
               "'x'", '"y"', "!!set ", "!!map ", "|", ">", "\r", "\x85", "\u2028", "1", "2021-01-01", "#c", "&a ",
               "*a", "...", "---", "%YAML 1.1\n"]


def test_front_matter_that_cannot_exceed_the_limits_passes_check_yaml():
    """`cannot_exceed` lets loading skip check_yaml's event pass: under small random limits, whatever it lets
    through check_yaml accepts, or refuses with the very parse error the loader raises."""
    import random

    import yaml

    from newsetl.errors import RejectError
    from newsetl.posts.limits import PostLimits, cannot_exceed, check_yaml

    rng = random.Random(7)
    passed = 0
    for text in _random_texts(YAML_PIECES, 40_000, 7):
        limits = PostLimits(max_yaml_nodes=rng.randint(2, 30), max_yaml_depth=rng.randint(1, 6))
        if not cannot_exceed(text, limits):
            continue
        passed += 1
        try:
            check_yaml(text, limits)
        except RejectError as exc:
            pytest.fail(f"{text!r} within {limits}: {exc}")
        except yaml.YAMLError as exc:
            with pytest.raises(yaml.YAMLError) as loaded:
                yaml.load(text, Loader=yaml.CSafeLoader)
            assert str(loaded.value) == str(exc)
    assert passed > 4_000
    assert not cannot_exceed("a: &x [1]\nb: *x") and not cannot_exceed("a: 1\n--- b")
    assert not cannot_exceed("[" * 65 + "]" * 65) and cannot_exceed("[" * 64 + "]" * 64)
    assert not cannot_exceed("t: " + "x" * 5000) and cannot_exceed("t: " + "x" * 4990)


def test_paragraphs_without_note_words_skip_the_note_patterns(monkeypatch):
    """clean._flush skips _metadata/_note when a paragraph has none of the words the note patterns need: the
    articles of the real posts and of paragraphs built around those words are what the long way gives."""
    from newsetl.posts import clean

    assert clean._note_gate(RULES.compiled(())) is not None
    edge_body = "".join(f"<p>{text}</p>" for text in EDGE_TEXTS) + '<p><img src="a.png"></p><p>图片来源：网络</p>'
    posts = [parse_post_text(path.read_text(encoding="utf-8"), InputRef("t", "hexo_dir", path.name, "/x", "h", 0),
                             ZoneInfo("UTC")) for path in sorted(POSTS.rglob("*.md"))]
    posts.append(parse_post_text(f"---\ntitle: edge\n---\n{edge_body}", InputRef("t", "hexo_dir", "e.md", "/x", "h", 0),
                                 ZoneInfo("UTC")))
    import copy

    fast = [clean_post(copy.deepcopy(p), RULES) for p in posts]
    monkeypatch.setattr(clean, "_note_gate", lambda rules: None)
    slow = [clean_post(copy.deepcopy(p), RULES) for p in posts]
    assert [a.content_hash for a in fast] == [a.content_hash for a in slow]
    assert [(a.paragraphs, a.editor, a.origin, a.byline, a.photo_credit) for a in fast] == \
        [(a.paragraphs, a.editor, a.origin, a.byline, a.photo_credit) for a in slow]
    assert any(a.editor for a in fast) and any(a.origin for a in fast) and any(a.photo_credit for a in fast)


SOUP_PIECES = [
    "<b>", "</b>", "<B>", "</br>", "<br/>", "<bé>", "<b.x>", "<b:x>", "<b-x>", "<b,x>", "<b\tclass=x>", "<p>", "</p>",
    "<P ALIGN=center>", "<table>", "<tr>", "<td>", "</table>", "<li>", "<ul>", "<form>", "<option>", "<html>",
    "<body>", "<head>", "<title>", "<frameset>", "text", " ", "\n", "\r\n", "<", ">", "/", "=", "'", '"', "<img src=x>",
    "<!--", "-->", "<![CDATA[", "]]>", "<?pi ?>", "<!DOCTYPE html>", "<svg>", "<math>", "<script>", "</script>",
    "<style>", "<textarea>", "<xmp>", "<a href='x'>", "</a>", '<span class="img_descr">', "<SPAN CLASS='a img_descr'>",
    "<div style='text-align:center'>", "<p style=\"text-align: center\">", "&amp;", "&#60;", "<object>",
    "<iframe src=y>", "<figure>", "<figcaption>", "<FigCaption>", "\x00", "<strong>", "<font cms-style='strong-Bold'>",
    "<p class=img-desc>", "<i id=k hidden>", "<em style=display:none>", "<div class='caption-text\r\nx'>",
    "<p align=center>", "<span", "<strong class=", "<img class=avatar src=a.png>", "<div class=appendQr_wrap>",
]
EXTRA_SELECTORS = ["b", "BR", "span.x", "#k", "[class|=img]", "p[align=center]", "div > span", "p:not(.x)",
                   "a:first-child", "[title~=w]", "em + b", "td ~ td", "font[cms-style*=strong-Bold]", "*", "[hidden]"]


def _soups(count: int) -> list[str]:
    return _random_texts(SOUP_PIECES, count, 13)


def test_every_tag_of_a_tree_is_written_in_its_source():
    """selector_gate relies on it: an element not implied by libxml2 comes from `<tag` / `</tag` in the text
    parse_html_source gives back, and with no `&` in that text every attribute value is a piece of it."""
    from newsetl.posts.limits import parse_html_source
    from newsetl.posts.selector_gate import IMPLIED, tag_pattern

    bodies = [path.read_text(encoding="utf-8").split("---", 2)[2] for path in sorted(POSTS.rglob("*.md"))]
    checked = 0
    for html in bodies + _soups(6_000):
        try:
            root, source = parse_html_source(html)
        except Exception:  # noqa: BLE001 - a rejected body has no tree to check
            continue
        for element in root.iter():
            if isinstance(element.tag, str) and element is not root and element.tag not in IMPLIED:
                assert tag_pattern(element.tag).search(source), (element.tag, html)
                checked += 1
            if isinstance(element.tag, str) and "&" not in source:
                for value in element.values():
                    assert all(piece in source for piece in re.split("[\r\n]", value)), (value, html)
    assert checked > 10_000


def test_selector_gate_never_hides_a_match():
    """Where a rule selector (or a few more) finds something in a tree, may_match says it may: on the real posts
    and on tag soup with upper-case tags, broken tags, end tags, references and tags cut off by the end."""
    from lxml.cssselect import CSSSelector

    from newsetl.posts import selector_gate
    from newsetl.posts.limits import parse_html_source

    selectors = {s.css: s for c in COMPILED for s in (c.remove, c.promo_blocks, c.decoration_images, c.captions,
                                                        c.caption_candidates, c.bold) if s is not None}
    selectors.update({css: CSSSelector(css) for css in EXTRA_SELECTORS})
    bodies = [path.read_text(encoding="utf-8").split("---", 2)[2] for path in sorted(POSTS.rglob("*.md"))]
    found = skipped = 0
    for html in bodies + _soups(3_000):
        try:
            root, source = parse_html_source(html)
        except Exception:  # noqa: BLE001
            continue
        for selector in selectors.values():
            may = selector_gate.may_match(selector, source)
            if selector(root):
                assert may, (selector.css, html)
                found += 1
            skipped += not may
    assert found > 2_000 and skipped > 20_000


def test_selector_gates_of_the_rules():
    from newsetl.posts.selector_gate import gate_for

    assert gate_for("[hidden]") is None and gate_for("p") is None and gate_for("*") is None and gate_for("div") is None
    assert gate_for("style, [hidden]") is None  # one part with nothing to check: always run
    gate = gate_for("span.img_descr")
    assert gate.may_match("<SPAN class='a img_descr'>") and not gate.may_match("<spanx class=img_descr>")
    assert not gate.may_match("<span class=img_desc>") and gate.may_match("<span class=img_d&#101;scr>")
    assert gate_for("[class*=x i]") is None  # a case flag: the value can be written in any case
    assert gate_for("b").may_match("</B>") and not gate_for("b").may_match("<br><body><blockquote>")
    both = gate_for("p[style*='text-align:center'], p[align=center], b, strong, span.x, span")
    assert [([t.pattern for t in tags], values) for tags, values in both.parts] == [
        (["</?(?:b|span|strong)(?![A-Za-z0-9:_.-])"], []), ([], ["center"])]  # what the others imply is left out
    assert both.may_match("<p align=center>") and both.may_match("<SPAN>") and not both.may_match("<p><br>")
