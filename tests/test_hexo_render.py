"""Hexo sites as people keep them (issue 13), without Prefect: the real posts of three public Hexo blogs
(tests/fixtures/hexo) through read -> parse -> clean, with their site configs, asserted row by row."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsetl.config import config_from_dict
from newsetl.models import Batch, InputRef
from newsetl.posts.clean import clean_post
from newsetl.posts.discover import discover_sources
from newsetl.posts.hexo_post import category_paths
from newsetl.errors import ConfigError
from newsetl.posts.hexo_site import load_site
from newsetl.posts.hexo_tags import TagContext
from newsetl.posts.markdown import detect_format, render_fragment
from newsetl.posts.options import PostOptions
from newsetl.posts.sources import post_options
from newsetl.posts.parse import parse_post_text
from newsetl.posts.pipeline import prepare_batch, prepare_texts
from newsetl.posts.post_links import DeferredLinks
from newsetl.rules import load_rules

HEXO = Path(__file__).resolve().parent / "fixtures" / "hexo"
SITES = ("hexojs-site", "suka-unit-test", "huzhenghui")
UTC = timezone.utc


@pytest.fixture(scope="module")
def rows() -> dict:
    """Every fixture post cleaned: {(source, locator): (article row, [paragraph rows], [image rows])}."""
    config = config_from_dict({"warehouse": "unused.duckdb", "sources": [
        {"type": "hexo_dir", "name": name, "path": str(HEXO / name)} for name in SITES]}, base_dir=HEXO)
    options = post_options(config, config.sources)
    found = discover_sources([(s, options[s.name].root) for s in config.sources], {})
    deferred = DeferredLinks(options)  # as the ingest flow does: posts using post_link come back, then again
    batch = prepare_batch(Batch(found.todo), ["utf-8"], deferred.options, load_rules())
    deferred.add(batch)
    assert [p.raw.ref.locator for p in deferred.posts] == ["Hexo-Tag-Plugins.md"]
    stored = batch.tables.articles.to_pylist()
    raws, linked = deferred.finish(lambda source: [(a["locator"], a["title"], a["url"]) for a in stored
                                                   if a["source"] == source])
    relinked = prepare_texts(raws, linked, load_rules())
    assert batch.rejects == relinked.rejects == []
    assert len(found.todo) == 25 and batch.skipped == 1  # long-title: published: false
    assert (len(batch.items), len(relinked.items)) == (23, 1)
    paragraphs, images = {}, {}
    for tables in (batch.tables, relinked.tables):
        for p in tables.paragraphs.to_pylist():
            paragraphs.setdefault(p["article_id"], []).append(p)
        for i in tables.images.to_pylist():
            images.setdefault(i["article_id"], []).append(i)
    return {(a["source"], a["locator"]): (a, paragraphs.get(a["article_id"], []), images.get(a["article_id"], []))
            for a in stored + relinked.tables.articles.to_pylist()}


def kinds(paragraphs: list[dict], kind: str) -> list:
    return [p for p in paragraphs if p["kind"] == kind]


def test_headings_keep_their_text_and_level(rows) -> None:
    _, paragraphs, _ = rows[("suka-unit-test", "markdown-style.md")]
    assert [(p["text"], p["level"]) for p in kinds(paragraphs, "heading")] == [
        ("Headers", 1), ("H1", 1), ("H2", 2), ("H3", 3), ("H4", 4), ("H5", 5), ("H6", 6), ("Alt-H1", 1),
        ("Alt-H2", 2), ("Emphasis", 1), ("Lists", 1), ("Inline HTML", 1), ("Links", 1), ("Images", 1),
        ("Code and Syntax Highlighting", 1), ("Tables", 1), ("Blockquotes", 1), ("Horizontal Rule", 1),
        ("Line Breaks", 1), ("Youtube videos", 1)]
    _, paragraphs, _ = rows[("huzhenghui", "Git-Clone.md")]
    assert [(p["text"], p["level"]) for p in kinds(paragraphs, "heading")] == [
        ("Git Clone", 1), ("进入项目父目录", 2), ("获取项目", 2), ("进入项目文件夹", 2), ("安装依赖包", 2), ("本地测试", 2)]


def test_code_blocks_keep_language_and_line_breaks(rows) -> None:
    _, paragraphs, _ = rows[("suka-unit-test", "markdown-style.md")]
    code = [(p["lang"], p["text"].count("\n") + 1) for p in kinds(paragraphs, "code")]
    assert code == [("markdown", 16), ("markdown", 1), ("markdown", 7), (None, 2), ("markdown", 9),
                    ("javascript", 2), ("python", 2), (None, 2), ("markdown", 6)]
    assert kinds(paragraphs, "code")[6]["text"] == 's = "Python syntax highlighting"\nprint s'
    _, paragraphs, _ = rows[("suka-unit-test", "tag-plugins.md")]  # {% codeblock %} tags and a plain fence
    code = [(p["lang"], p["text"].count("\n") + 1) for p in kinds(paragraphs, "code")]
    assert code == [(None, 1), (None, 1), (None, 2), ("js", 11)]
    assert kinds(paragraphs, "code")[3]["text"].splitlines()[0] == "const http = require('http');"
    _, paragraphs, _ = rows[("hexojs-site", "2019-10-14-hexo-4-released.md")]
    assert [(p["lang"], p["text"]) for p in kinds(paragraphs, "code")] == [
        ("diff", '-  "hexo": "^3.9.0",\n+  "hexo": "^4.0.0",'), ("yml", "pretty_urls:\n  trailing_index: false")]


def test_tables_are_one_paragraph_each(rows) -> None:
    _, paragraphs, _ = rows[("hexojs-site", "2019-12-24-how-we-make-hexo-30-percent-faster.md")]
    tables = kinds(paragraphs, "table")
    assert len(tables) == 4
    assert tables[0]["text"].splitlines()[:2] == [
        " | Hexo 3.2 |  | Hexo 3.8 |  | Hexo 4.2 | ",  # one line per row, ` | ` between cells (some empty)
        "Cold processing | 13.585s | 0% | 18.572s | +37% | 9.210s | -32%"]
    assert [len(t["text"].splitlines()) for t in tables] == [7, 7, 7, 7]
    _, paragraphs, _ = rows[("suka-unit-test", "markdown-style.md")]
    assert kinds(paragraphs, "table")[2]["text"] == "Markdown | Less | Pretty\nStill | renders | nicely\n1 | 2 | 3"


def test_tag_plugins_render_as_hexo_does(rows) -> None:
    article, paragraphs, images = rows[("suka-unit-test", "tag-plugins.md")]
    quotes = [p["text"] for p in kinds(paragraphs, "quote")]
    assert quotes[:5] == [
        "Praesent diam elit, interdum ut pulvinar placerat, imperdiet at magna.",
        "Do not just seek happiness for yourself. Seek happiness for all. Through kindness. Through mercy.",
        "David Levithan Wide Awake",  # the blockquote tag's footer: author, cite
        "NEW: DevDocs now comes with syntax highlighting. http://devdocs.io",
        "@DevDocs twitter.com/devdocs/status..."]
    assert quotes[-2:] == ["Lorem ipsum dolor sit amet, consectetur adipiscing elit."] * 2  # the pullquotes
    assert article["warnings"] == ["unknown tag plugin 'gist'", "unknown tag plugin 'jsfiddle'"]
    _, paragraphs, _ = rows[("suka-unit-test", "videos.md")]
    assert [(p["kind"], p["text"]) for p in paragraphs] == [
        ("text", "This is a video test post."), ("text", "Youtube"),
        ("embed", "https://www.youtube.com/embed/TIbZDRXM-Tg"), ("text", "Vimeo"),
        ("embed", "https://player.vimeo.com/video/82090131")]
    article, paragraphs, images = rows[("huzhenghui", "Hexo-Tag-Plugins.md")]
    texts = [p["text"] for p in paragraphs]
    # post_link: the target post's title (that post's front matter says "Hexo-Configuration") and URL, or the
    # text given; the title attribute is always the target's title. post_path: the target's URL.
    assert ('<a href="http://yoursite.com/2019/10/16/Hexo-Configuration/" title="Hexo-Configuration">'
            'Hexo-Configuration</a>') in article["body_html"]
    assert ('<a href="http://yoursite.com/2019/10/16/Hexo-Commands/" title="Hexo Commands">Hexo Commands</a>'
            in article["body_html"])
    assert "http://yoursite.com/2019/10/16/Hexo-Front-Matter/" in texts
    assert "/2019/10/16/Hexo-Tag-Plugins/banner.jpg" in texts  # asset_path: the asset's public path
    assert ("embed", "https://huzhenghui.github.io") in [(p["kind"], p["text"]) for p in paragraphs]  # iframe
    assert [(i["url"], i["alt"]) for i in images] == [
        ("https://huzhenghui.github.io/css/images/banner.jpg", "Banner"),  # {% img %}: title/alt as Hexo parses
        ("local:huzhenghui/source/_posts/Hexo-Tag-Plugins/banner.jpg", "Banner")]  # {% asset_img %}
    # `{{ title }}` is the post's title (Hexo renders the post's Nunjucks with its front matter), except in the
    # raw tag's body (verbatim) and in code
    assert texts.count("Title: Hexo Tag Plugins") == 1 and texts.count("Title: {{ title }}") == 1
    assert "Title: {{ title }}\n\n{% raw %}\nTitle: {{ title }}\n{% endraw %}" in texts
    assert article["warnings"] == ["unknown tag plugin 'jsfiddle'", "unknown tag plugin 'gist'"] + [
        "include_code: package.json not found in the site's code_dir"] * 5


def test_no_raw_markdown_or_tag_syntax_left_outside_code(rows) -> None:
    leftovers = []
    for (source, locator), (_, paragraphs, _) in rows.items():
        for p in paragraphs:
            if p["kind"] != "code" and re.search(r"\]\(|!\[|```|\{%|<!--", p["text"]):
                leftovers.append((locator, p["text"][:40]))
    # Only what Hexo leaves too: inline code that quotes a tag, and the author's broken links and image paths
    # with spaces, which are not Markdown links or images (neither in CommonMark nor in Hexo's marked).
    minimalist = "2020-07-25-create-a-minimalist-blog-with-hexo.md"
    assert leftovers == [("2019-10-14-hexo-4-released.md", "If you want to retain unescaped characte"),
                         (minimalist, "![Chrome DevTools, Network tab](minimali"),
                         (minimalist, "![Chrome DevTools, Network tab](minimali"),
                         (minimalist, "Hexo has [https://hexo.io/plugins/](a bu"),
                         (minimalist, "![Chrome DevTools, Network tab](minimali")]


def test_images_markdown_asset_and_front_matter(rows) -> None:
    _, _, images = rows[("suka-unit-test", "images.md")]
    assert [(i["role"], i["url"], i["alt"]) for i in images] == [
        ("body", "https://i1.wp.com/theme.suka.moe/demo/assets/wallpaper-2572384.jpg", None),
        ("body", "https://i1.wp.com/theme.suka.moe/demo/assets/wallpaper-2311325.jpg", "Caption"),
        ("body", "https://i1.wp.com/theme.suka.moe/demo/assets/wallpaper-878514.jpg", None),
        ("body", "https://i1.wp.com/placehold.it/150.jpg", "Small Picture"),
        ("body", "https://i1.wp.com/placehold.it/350x150.jpg", "Small Picture"),
        ("body", "https://i1.wp.com/placehold.it/1024x768.jpg", "Big Picture"),
        ("body", "https://i1.wp.com/placehold.it/1920x1080.png", "Big Picture"),
        ("thumbnail", "https://i1.wp.com/placehold.it/1920x1080.jpg?h=150", None)]
    _, _, images = rows[("hexojs-site", "2026-05-08-hexo-lost-41k-github-stars-with-one-command.md")]
    folder = "local:hexojs-site/source/_posts/2026-05-08-hexo-lost-41k-github-stars-with-one-command/"
    assert [i["url"] for i in images] == [folder + "star-history.webp", folder + "github-cli-repo-edit.webp",
                                          folder + "hexojs-audit-log.webp"]
    _, _, images = rows[("hexojs-site", "2020-07-25-create-a-minimalist-blog-with-hexo.md")]
    assert [(i["url"], i["alt"]) for i in images] == [  # a relative path resolves into the post's asset folder
        ("local:hexojs-site/source/_posts/2020-07-25-create-a-minimalist-blog-with-hexo/minimalist/"
         "site1-devtools-network.png", "Chrome DevTools, Network tab")]


def test_summaries_from_more_marker_or_first_paragraph(rows) -> None:
    assert rows[("suka-unit-test", "excerpts.md")][0]["summary"] == (
        "The following contents should be invisible in home/archive page. 接下来的内容不应该出现在首页和归档里")
    assert rows[("suka-unit-test", "tags.md")][0]["summary"] == (
        "This post contains 3 tags. Make sure your theme can display all of the tags.")
    summary = rows[("huzhenghui", "Hexo-Tag-Plugins.md")][0]["summary"]
    assert summary.startswith("Hexo Tag Plugins Block Quote No arguments. Plain blockquote.")
    assert summary.endswith("sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.")  # up to the marker


def test_dates_their_source_and_updated(rows) -> None:
    def dated(source: str, locator: str) -> tuple:
        article = rows[(source, locator)][0]
        return article["published_at"], article["date_source"], article["source_updated_at"]

    assert dated("hexojs-site", "2019-10-14-hexo-4-released.md") == (
        datetime(2019, 10, 14, tzinfo=UTC), "file_name", None)  # no `date`: the file name, per new_post_name
    assert dated("hexojs-site", "2026-05-08-hexo-lost-41k-github-stars-with-one-command.md") == (
        datetime(2026, 5, 8, 12, 0, tzinfo=UTC), "front_matter", None)  # `date: 2026/05/08 12:00`
    assert dated("suka-unit-test", "markdown-style.md") == (  # `date: 2018-7-24 23:31:06`
        datetime(2018, 7, 24, 23, 31, 6, tzinfo=UTC), "front_matter", datetime(2018, 7, 24, 23, 31, 6, tzinfo=UTC))
    assert dated("huzhenghui", "Hexo-Tag-Plugins.md") == (
        datetime(2019, 10, 16, 16, 38, 5, tzinfo=UTC), "front_matter", datetime(2019, 10, 17, 13, 0, 51, tzinfo=UTC))


def test_tags_categories_titles_and_urls(rows) -> None:
    article = rows[("huzhenghui", "Hexo-Front-Matter.md")][0]
    assert (article["tags"], article["categories"]) == (["Hexo", "Front matter"], ["Hexo", "Learn"])  # [[Hexo, Learn]]
    assert article["category_paths"] == [["Hexo", "Learn"]]  # one hierarchy: Hexo > Learn
    assert article["url"] == "http://yoursite.com/2019/10/16/Hexo-Front-Matter/"
    article = rows[("suka-unit-test", "categories.md")][0]
    assert (article["tags"], article["categories"]) == ([], ["Foo", "Bar", "Baz"])
    assert article["category_paths"] == [["Foo", "Bar", "Baz"]]  # a flat list is ONE hierarchy in Hexo
    assert rows[("suka-unit-test", "tags.md")][0]["category_paths"] == []
    assert rows[("suka-unit-test", "no-title.md")][0]["title"] == "no-title"  # no title: the file name
    assert rows[("suka-unit-test", "中文測試.md")][0]["url"] == (
        "https://theme.suka.moe/demo/2013/12/24/%E4%B8%AD%E6%96%87%E6%B8%AC%E8%A9%A6/")
    assert rows[("hexojs-site", "2019-12-24-how-we-make-hexo-30-percent-faster.md")][0]["url"] == (
        "https://hexo.io/news/2019/12/24/how-we-make-hexo-30-percent-faster/")
    assert {a["body_format"] for a, _, _ in rows.values()} == {"markdown"}


def test_site_config_with_js_yaml_tags_loads(tmp_path) -> None:
    # Line 124 of billhu0/billhu-hexo-blog's _config.yml (commit 3d8cc443): a minifier option with js-yaml's
    # `!!js/regexp` tag, which Hexo reads; a safe loader refused it, and with it the site's 67 posts.
    config = tmp_path / "_config.yml"
    config.write_text("timezone: Asia/Shanghai\npermalink: posts/:title/\n"
                      "minify:\n  html:\n    ignoreCustomComments: [ !!js/regexp /^\\s*more/]\n"
                      "hook: !!js/function 'function () { return 1 }'\nunsafe: !!python/object/apply:os.system [echo]\n",
                      encoding="utf-8")
    site = load_site(config)
    assert (site.timezone, site.permalink) == ("Asia/Shanghai", "posts/:title/")
    config.write_text("timezone: [unclosed\n", encoding="utf-8")  # still one clear line for broken YAML
    with pytest.raises(ConfigError, match=r"_config.yml: invalid YAML: "):
        load_site(config)


def test_site_config_file_names_and_permalinks() -> None:
    site = load_site(HEXO / "hexojs-site" / "_config.yml")
    assert (site.timezone, site.new_post_name, site.post_asset_folder) == ("UTC", ":year-:month-:day-:title.md", True)
    assert site.file_name_date("2019-10-14-hexo-4-released.md", ZoneInfo("Asia/Shanghai")) == \
        datetime(2019, 10, 14, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert site.slug("2019-10-14-hexo-4-released.md") == "hexo-4-released"
    assert site.file_name_date("hello-world.md", ZoneInfo("UTC")) is None
    local = datetime(2019, 10, 14, 8, 5, 0)
    assert site.public_url(site.post_path("2019-10-14-hexo-4-released.md", local, category=[], lang=None,
                                          front_permalink=None)) == "https://hexo.io/news/2019/10/14/hexo-4-released/"
    assert site.public_url(site.post_path("x.md", local, category=[], lang=None, front_permalink="/about/me/")) \
        == "https://hexo.io/about/me/"


def test_front_matter_without_opening_line_and_body_format() -> None:
    ref = InputRef("s", "hexo_dir", "a.md", "/nonexistent/a.md", "h", 1)
    post = parse_post_text("title: Bare\ndate: 2013/12/25 00:14\ntags: [a, b]\n---\n# Hi\n\ntext\n", ref,
                           PostOptions(zone=ZoneInfo("Asia/Shanghai")))
    assert (post.title, post.published_at, post.tags, post.body_format) == (
        "Bare", datetime(2013, 12, 24, 16, 14, tzinfo=UTC), ["a", "b"], "markdown")
    assert post.body_html == "<h1>Hi</h1>\n<p>text</p>\n"
    html = parse_post_text("---\ntitle: H\n---\n<p>Already <b>HTML</b></p>\n", ref, ZoneInfo("UTC"))
    assert (html.body_format, html.body_html) == ("html", "<p>Already <b>HTML</b></p>")
    forced = parse_post_text("---\ntitle: H\n---\n<p>x</p>\n", ref, PostOptions(ZoneInfo("UTC"), "markdown"))
    assert (forced.body_format, forced.body_html) == ("markdown", "<p>x</p>")
    assert detect_format("<div>\n## not a heading in HTML?\n</div>") == "markdown"


def test_tags_inside_code_stay_text_and_unknown_tags_warn() -> None:
    ctx = TagContext(asset_ref=lambda n: n, asset_url=lambda n: n, code_file=lambda p: None, markdown=lambda t: "")
    ctx.markdown = lambda text: render_fragment(text, ctx)
    html = render_fragment("Use `{% raw %}` here.\n\n```\n{% note %}\n```\n\n{% note info %}\n**Hi**\n{% endnote %}\n", ctx)
    assert html == ("<p>Use <code>{% raw %}</code> here.</p>\n<pre><code>{% note %}\n</code></pre>\n"
                    "<p><strong>Hi</strong></p>\n\n")
    assert ctx.warnings == ["unknown tag plugin 'note'"]


def test_category_hierarchies_as_hexo_sets_them() -> None:
    """hexo/lib/models/post.js setCategories: nested lists make each item its own hierarchy."""
    assert category_paths(["a", "b"]) == [["a", "b"]]
    assert category_paths([["a", "b"], "c"]) == [["a", "b"], ["c"]]
    assert category_paths([["Hexo", "Learn"]]) == [["Hexo", "Learn"]]
    assert category_paths("Diary") == [["Diary"]]
    assert category_paths([2019, "", None, "x"]) == [["2019", "x"]]
    assert category_paths([["a", ""], [], "b"]) == [["a"], ["b"]]
    assert category_paths(None) == category_paths([]) == []


def test_permalink_category_is_the_last_category_with_its_parents() -> None:
    """`:category` is Hexo's `categories.last().slug`: the last category, its parents' slugs in front."""
    config = config_from_dict({"warehouse": "unused.duckdb", "sources": [
        {"type": "hexo_dir", "name": name, "path": str(HEXO / name)} for name in ("suka-unit-test", "huzhenghui")]},
        base_dir=HEXO)
    options = post_options(config, config.sources)
    urls = {}
    for name, opts in options.items():
        opts.site = replace(opts.site, permalink=":category/:title/")
        for locator in ("categories.md", "tags.md", "Hexo-Tag-Plugins.md"):
            path = opts.root / locator
            if path.is_file():
                ref = InputRef(name, "hexo_dir", locator, str(path), "h", 1)
                urls[locator] = parse_post_text(path.read_text(encoding="utf-8"), ref, opts).url
    assert urls == {"categories.md": "https://theme.suka.moe/demo/Foo/Bar/Baz/categories/",  # [Foo, Bar, Baz]
                    "tags.md": "https://theme.suka.moe/demo/uncategorized/tags/",  # no categories
                    "Hexo-Tag-Plugins.md": "http://yoursite.com/Hexo/Learn/Hexo-Tag-Plugins/"}  # [[Hexo, Learn]]
    site = opts.site
    assert site.post_path("p.md", None, category=["C++ tips", "Part 2"], lang=None, front_permalink=None) == \
        "C-tips/Part-2/p/"  # each level slugized as Hexo does


def test_nunjucks_variables_render_as_hexo_renders_a_post() -> None:
    """Hexo renders a post's `{{ ... }}` with Nunjucks after Markdown, the post's front matter as the context:
    a front-matter name gives its value, anything unknown (`page.x`, `config.x`) nothing; `{# #}` is dropped."""
    ref = InputRef("s", "hexo_dir", "a.md", "/nonexistent/a.md", "h", 1)
    text = ("---\ntitle: Vars & <things>\ntags: [a, b]\nseries: {name: Intro, part: 2}\n---\n"
            "# {{ title }}\n\nTags {{ tags }}; part {{ series.part }} of {{series.name}}; "
            "[{{ page.title }}][{{ config.url }}] {# a note #}done `{{ title }}`\n\n"
            "{{ title | upper }}\n\n```\n{{ title }}\n```\n")
    post = parse_post_text(text, ref, PostOptions(zone=ZoneInfo("UTC")))
    assert post.body_html == (
        "<h1>Vars &amp; &lt;things&gt;</h1>\n<p>Tags a,b; part 2 of Intro; [][] done <code>{{ title }}</code></p>\n"
        "\n<pre><code>{{ title }}\n</code></pre>\n")  # the paragraph of the expression: gone
    assert post.warnings == ["template expression {{ title | upper }} not rendered"]


def test_cover_keys_of_popular_themes() -> None:
    from newsetl.posts.hexo_post import covers_of

    # titangene/hexo-blog's posts: `cover_image: /images/cover/gke.jpg`; Fluid: index_img/banner_img; Butterfly: top_img
    assert covers_of({"cover_image": "/images/cover/gke.jpg"}) == ["/images/cover/gke.jpg"]
    assert covers_of({"index_img": "/img/a.jpg", "banner_img": "/img/b.jpg", "top_img": "/img/a.jpg",
                      "photos": ["/img/c.jpg"], "cover": ""}) == ["/img/c.jpg", "/img/a.jpg", "/img/b.jpg"]


def test_permalink_variables_from_front_matter(tmp_path) -> None:
    # jerryc127/butterfly.js.org: `permalink: posts/:abbrlink/` and `abbrlink: 2df239ce` in each post (the
    # hexo-abbrlink plugin); Hexo's post_permalink filter takes any front-matter key. Every URL was NULL.
    config = tmp_path / "_config.yml"
    config.write_text("url: https://butterfly.js.org\npermalink: posts/:abbrlink/\n"
                      "permalink_defaults:\n  lang: en\n  abbrlink: none\n", encoding="utf-8")
    site = load_site(config)
    path = site.post_path("標籤外掛-Tag-Plugins.md", None, category=[], lang=None, front_permalink=None,
                          front={"title": "標籤外掛（Tag Plugins）", "abbrlink": "2df239ce", "tags": ["a"]})
    assert site.public_url(path) == "https://butterfly.js.org/posts/2df239ce/"
    assert site.post_path("x.md", None, category=[], lang=None, front_permalink=None, front={"abbrlink": 7}) \
        == "posts/7/"
    # the post lacks it: permalink_defaults gives it, as in Hexo
    assert site.post_path("x.md", None, category=[], lang=None, front_permalink=None, front={}) == "posts/none/"


def test_tabs_indenting_yaml_read_as_hexo_reads_them(tmp_path) -> None:
    # soramoyou04/soramoyou04.github.io's _config.yml line 112: "\ttype: static" under `tag_plantuml:`; the
    # site's 8 posts were lost with it. Hexo turns indenting tabs into two spaces (hexo-front-matter's escape).
    config = tmp_path / "_config.yml"
    config.write_text("timezone: 'Japan'\ntag_plantuml:\n\ttype: static\n", encoding="utf-8")
    assert load_site(config).timezone == "Japan"
    text = "---\ntitle: t\ntags:\n\t- a\n\t- b\n---\n<p>x</p>\n"
    post = parse_post_text(text, InputRef("s", "hexo_dir", "t.md", "t.md", "-", len(text)), ZoneInfo("UTC"))
    assert post.tags == ["a", "b"]


def test_theme_tags_keep_the_text_a_reader_sees() -> None:
    # jerryc127/butterfly.js.org's 標籤外掛-Tag-Plugins.md (hideInline, btn, label, hideToggle), rd-tony's NexT
    # markdown.md (label, button, mermaid), neoalienson's echarts JSON: the text was lost, the JSON became prose.
    body = ("哪個英文字母最酷？ {% hideInline 因為西裝褲(C裝酷),查看答案,#FF7242,#fff %}\n\n"
            "click the button {% btn 'https://butterfly.js.org',Butterfly %}\n\n"
            "{% label primary@primary %} and {% label 文本 blue %}\n\n"
            "{% button https://www.google.com, 前往 Google, fab fa-google fa-fw %}\n\n"
            "{% hideToggle Butterfly安裝方法,bg,color %}\n在你的博客根目錄裏\n{% endhideToggle %}\n\n"
            "{% mermaid graph TD %}\nA --> B\n{% endmermaid %}\n\n"
            "{% echarts 400 '85%' %}\n{\n  \"title\": {\"text\": \"x\"}\n}\n{% endecharts %}\n")
    text = "---\ntitle: t\n---\n" + body
    post = parse_post_text(text, InputRef("s", "hexo_dir", "t.md", "t.md", "-", len(text)), ZoneInfo("UTC"))
    article = clean_post(post, load_rules())
    assert article.paragraphs == [
        ("text", "哪個英文字母最酷？ 因為西裝褲(C裝酷)"), ("text", "click the button Butterfly"),
        ("text", "primary and 文本"), ("text", "前往 Google"), ("text", "Butterfly安裝方法"),
        ("text", "在你的博客根目錄裏"), ("code", "graph TD\nA --> B"), ("code", '{\n  "title": {"text": "x"}\n}')]
    assert post.warnings == []
