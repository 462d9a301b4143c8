"""Images a Hexo post cites on disk, found where Hexo and a browser find them (tests/fixtures/hexo_images: real
posts of three blogs): paths relative to the post's file or to its page URL, `{% asset_path %}` in an
`<img>`, and tags after a stray backtick (Hexo leaves only what the Markdown renderer made code as text)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from newsetl.config import config_from_dict
from newsetl.flows.ingest import ingest
from newsetl.models import Batch
from newsetl.posts.discover import discover_sources
from newsetl.posts.hexo_post import LocalImages, local_images, tag_context
from newsetl.posts.hexo_tags import TagContext
from newsetl.posts.markdown import render_fragment
from newsetl.posts.pipeline import prepare_batch
from newsetl.posts.sources import post_options
from newsetl.rules import load_rules

from helpers import rows

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hexo_images"
SITES = ("billhu", "titangene", "liuyunzhuge")
COOKIE = "2020-05-14-cookie的安全性"
EXPECTED = {  # every local image of the three posts, each an existing file of its site
    "02_raspi_config.md": ["local:billhu/source/_posts/02_raspi_config/ssh_host_changed.webp"],
    "bootstrap-vue-env-import-components.md": [
        "local:titangene/source/images/cover/bootstrap-vue.jpg",
        "local:titangene/source/images/bootstrap-vue-env-import-components/import-components-or-vue-plugin.png"],
    f"{COOKIE}.md": [f"local:liuyunzhuge/source/_posts/{COOKIE}/0{n}.png" for n in range(1, 7)],
}


def site_config(tmp_path: Path, images: dict | None = None):
    return config_from_dict({
        "warehouse": str(tmp_path / "wh.duckdb"), "images": images or {"enabled": False},
        "sources": [{"type": "hexo_dir", "name": name, "path": str(FIXTURES / name)} for name in SITES]},
        base_dir=tmp_path)


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory) -> dict:
    """The three posts read, parsed and cleaned: {locator: (article row, [paragraph rows], [image rows])}."""
    config = site_config(tmp_path_factory.mktemp("wh"))
    options = post_options(config, config.sources)
    found = discover_sources([(s, options[s.name].root) for s in config.sources], {})
    batch = prepare_batch(Batch(found.todo), ["utf-8"], options, load_rules())
    assert batch.rejects == [] and len(batch.items) == 3
    articles = batch.tables.articles.to_pylist()
    paragraphs, images = batch.tables.paragraphs.to_pylist(), batch.tables.images.to_pylist()
    return {a["locator"]: (a, [p for p in paragraphs if p["article_id"] == a["article_id"]],
                           [i for i in images if i["article_id"] == a["article_id"]]) for a in articles}


def test_a_path_relative_to_the_post_file_is_found_beside_it(cleaned) -> None:
    # billhu: `02_raspi_config/x.webp` from source/_posts/02_raspi_config.md (not the asset folder's own
    # `02_raspi_config/02_raspi_config/x.webp`, which does not exist)
    _, _, images = cleaned["02_raspi_config.md"]
    assert [i["url"] for i in images] == EXPECTED["02_raspi_config.md"]


def test_a_path_relative_to_the_page_url_is_the_sites_source_file(cleaned) -> None:
    # titangene: `../images/cover/x.jpg` on the page /article/<title>.html is /images/cover/x.jpg
    locator = "bootstrap-vue-env-import-components.md"
    article, _, images = cleaned[locator]
    assert article["url"] == ("https://titangene.github.io/article/"
                              "bootstrap-vue-env-import-components.html")
    assert [(i["role"], i["url"]) for i in images] == [("body", url) for url in EXPECTED[locator]]


def test_asset_path_images_after_a_stray_backtick_are_the_asset_folder_files(cleaned) -> None:
    article, paragraphs, images = cleaned[f"{COOKIE}.md"]
    assert [i["url"] for i in images] == EXPECTED[f"{COOKIE}.md"]
    assert "{%" not in article["body_html"]
    # the paragraph with the stray backtick: the backtick is text, the tag became the image between its two
    # lines (not literal text), and the inline code after it is still code, as Markdown reads it
    assert [(p["kind"], p["text"]) for p in paragraphs[1:5]] == [
        ("text", "目前与cookie安全性`相关的flag如下图："), ("text", "分别是："), ("list", "domain"), ("list", "path")]
    assert "<p>目前与<code>cookie</code>安全性`相关的flag如下图：<br> <img><br> 分别是：</p>" in article["body_html"]


def site(tmp_path: Path, permalink: str, root: str = "/") -> Path:
    """A small Hexo site: one post with an asset folder, `source/images/`, and files where a test needs them."""
    (tmp_path / "_config.yml").write_text(f"url: https://example.org\nroot: {root}\npermalink: {permalink}\n"
                                          "post_asset_folder: true\n", encoding="utf-8")
    posts = tmp_path / "source" / "_posts"
    (posts / "sub" / "p").mkdir(parents=True)
    (posts / "sub" / "p.md").write_text("---\ntitle: P\ndate: 2024-01-02 03:04:05\n---\nx\n", encoding="utf-8")
    for name in ("source/_posts/sub/p/both.png", "source/_posts/sub/both.png", "source/_posts/sub/beside.png",
                 "source/images/a.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def local_of(tmp_path: Path, permalink: str, root: str = "/") -> tuple[LocalImages, TagContext]:
    config = config_from_dict({"warehouse": "unused.duckdb", "sources": [
        {"type": "hexo_dir", "name": "s", "path": str(site(tmp_path, permalink, root))}]}, base_dir=tmp_path)
    opts = post_options(config, config.sources)["s"]
    path = opts.site.post_path("sub/p.md", None, category=[], lang=None, front_permalink=None)
    local = local_images("s", "sub/p.md", opts, path)
    return local, tag_context("sub/p.md", local, opts, path)


def test_candidates_in_order_first_existing_wins_else_the_asset_folder(tmp_path) -> None:
    local, _ = local_of(tmp_path, ":title.html")
    assert local.key("both.png") == "local:s/source/_posts/sub/p/both.png"      # (a) the asset folder first
    assert local.key("beside.png") == "local:s/source/_posts/sub/beside.png"    # (b) beside the post's file
    # (c) on the page /sub/p.html, ../images/a.png is /images/a.png; from the asset folder or beside the
    # file it would be source/_posts/sub/images/a.png or source/_posts/images/a.png, which do not exist
    assert local.key("../images/a.png") == "local:s/source/images/a.png"
    assert local.key("gone.png") == "local:s/source/_posts/sub/p/gone.png"      # none exists: (a), missing
    assert local.key("../gone.png") == "local:s/source/_posts/sub/gone.png"
    assert local.key("/images/a.png") == "local:s/source/images/a.png"
    assert local.key("/sub/p/both.png") == "local:s/source/_posts/sub/p/both.png"  # the asset folder's URL
    for hostile in ("../../../../../../etc/passwd", "/../../../../etc/passwd", "%2e%2e/" * 8 + "etc/passwd"):
        key = local.key(hostile)
        assert key is None or key.startswith("local:s/")
        assert key is None or (tmp_path / key[len("local:s/"):]).resolve().is_relative_to(tmp_path.resolve())
    assert local.key("https://example.org/a.png") is None


def test_asset_path_url_follows_hexo_post_asset_path_with_root(tmp_path) -> None:
    # Hexo's PostAsset.path: the post's path without `.html`, joined with the name; asset_path puts `root`
    # before it (hexo/lib/models/post_asset.ts, lib/plugins/tag/asset_path.js)
    local, ctx = local_of(tmp_path, "article/:title.html", root="/blog/")
    html = render_fragment('{% asset_path "both.png" %} {% asset_link both.png Both %}', ctx)
    assert html == ('<p>/blog/article/sub/p/both.png <a href="/blog/article/sub/p/both.png" title="Both">Both</a>'
                    '</p>\n')
    assert local.key("/blog/article/sub/p/both.png") == "local:s/source/_posts/sub/p/both.png"
    assert local.key("/blog/images/a.png") == "local:s/source/images/a.png"


def test_tags_stay_text_only_in_what_markdown_makes_code() -> None:
    ctx = TagContext(asset_ref=lambda n: n, asset_url=lambda n: f"/a/{n}", code_file=lambda p: None,
                     markdown=lambda t: "", data={"title": "T"})
    text = ("a `b` c`d\n<img src=\"{% asset_path x.png %}\">\n* `{% asset_path y.png %}` and `{{ title }}`\n\n"
            "{{ title }} `{% nosuchtag %}`\n\n    {% asset_path z.png %}\n")
    assert render_fragment(text, ctx) == (
        '<p>a <code>b</code> c`d<br />\n<img src="/a/x.png"></p>\n<ul>\n'
        '<li><code>{% asset_path y.png %}</code> and <code>{{ title }}</code></li>\n</ul>\n'
        '<p>T <code>{% nosuchtag %}</code></p>\n<pre><code>{% asset_path z.png %}\n</code></pre>\n')
    assert ctx.warnings == []  # the unknown tag is code: not rendered, no warning
    # a tag in a Markdown link or image URL (which the renderer %-encodes) is rendered too, as in Hexo
    assert render_fragment("[a]({% asset_path a.pdf %}) ![b]({% asset_path b.png %})", ctx) == (
        '<p><a href="/a/a.pdf">a</a> <img src="/a/b.png" alt="b" /></p>\n')


def test_ingest_reads_verifies_and_stores_every_image_from_disk(tmp_path) -> None:
    sites = tmp_path / "sites"
    for name in SITES:
        shutil.copytree(FIXTURES / name, sites / name)
    config = config_from_dict({
        "warehouse": str(tmp_path / "wh.duckdb"), "images": {"store": "images", "retries": 0, "block_private": True},
        "sources": [{"type": "hexo_dir", "name": name, "path": str(sites / name)} for name in SITES]},
        base_dir=tmp_path)
    summary = ingest(config)
    assert (summary["new"], summary["rejected"]) == (3, 0)
    warehouse = tmp_path / "wh.duckdb"
    expected = sorted(url for urls in EXPECTED.values() for url in urls)
    assert rows(warehouse, "SELECT url, host, status, reason FROM image_fetches ORDER BY url") == [
        (url, "(local)", "ok", None) for url in expected]
    assert rows(warehouse, "SELECT count(*), count(sha256) FROM article_images") == [(9, 9)]
    assert rows(warehouse, "SELECT format, width, height FROM images ORDER BY width, height") == [
        ("PNG", 41, 9), ("PNG", 42, 10), ("PNG", 43, 11), ("PNG", 44, 12), ("PNG", 45, 13), ("PNG", 46, 14),
        ("PNG", 58, 46), ("JPEG", 64, 32), ("WEBP", 70, 20)]
