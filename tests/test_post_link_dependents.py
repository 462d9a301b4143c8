"""Issue 13: a post that links to another with `{% post_link %}` is rendered again, in the same run, when the
other post's title or URL changes, although its own file did not change (as Hexo regenerates it)."""

from __future__ import annotations

from newsetl.flows.ingest import ingest

from helpers import rows
from test_hexo_flow import LINKS_POST, copy_sites, site_config

LINKING = "2026-06-01-links.md"
TARGET = "2019-10-14-hexo-4-released.md"


def _shown(warehouse):
    [(html,)] = rows(warehouse, f"SELECT body_html FROM articles WHERE locator = '{LINKING}'")
    first = rows(warehouse, "SELECT p.text FROM paragraphs p JOIN articles a USING (article_id) "
                            f"WHERE a.locator = '{LINKING}' ORDER BY p.position LIMIT 1")
    return html, first[0][0]


def test_a_changed_title_renders_the_unchanged_posts_that_link_to_it_again(tmp_path) -> None:
    sites = copy_sites(tmp_path)
    posts = sites / "hexojs-site" / "source" / "_posts"
    (posts / LINKING).write_text(LINKS_POST, encoding="utf-8")
    config = site_config(tmp_path, sites, names=["hexojs-site"])
    config.batch_size = 2
    config.reporting.enabled = False  # stories/keywords are not what this tests
    warehouse = tmp_path / "wh.duckdb"
    assert ingest(config)["new"] == 6
    assert rows(warehouse, "SELECT locator, target, title, url FROM article_links ORDER BY target") == [
        (LINKING, "Hexo 2.8 Released", "Hexo 2.8 Released", "https://hexo.io/news/2014/07/13/hexo-2-8-released/"),
        (LINKING, "hexo-4-released", "Hexo 4.0.0 Released", "https://hexo.io/news/2019/10/14/hexo-4-released/"),
        (LINKING, "hexo-5-released", None, None),
        (LINKING, "hexo-lost-41k-github-stars-with-one-command", "Hexo Lost 41k GitHub Stars with One Command",
         "https://hexo.io/news/2026/05/08/hexo-lost-41k-github-stars-with-one-command/")]

    # Only the target's file changes: the linking post shows its new title in the same run.
    target = posts / TARGET
    target.write_text(target.read_text(encoding="utf-8").replace("title: Hexo 4.0.0 Released",
                                                                 "title: Hexo 4 Is Out"), encoding="utf-8")
    changed = ingest(config)
    assert (changed["discovered"], changed["new"], changed["updated"], changed["unchanged"],
            changed["rejected"]) == (6, 0, 2, 4, 0)
    html, first = _shown(warehouse)
    assert ('<a href="https://hexo.io/news/2019/10/14/hexo-4-released/" title="Hexo 4 Is Out">Hexo 4 Is Out</a>'
            in html)
    assert first == "Read Hexo 4 Is Out first, then the 2.8 notes."
    assert rows(warehouse, "SELECT title FROM article_links WHERE target = 'hexo-4-released'") == [
        ("Hexo 4 Is Out",)]
    [(updated_by,)] = rows(warehouse, f"SELECT run_id FROM articles WHERE locator = '{LINKING}'")
    assert updated_by == changed["run_id"]

    again = ingest(config)  # nothing changed since: nothing rendered again
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 6)

    # The post stops using post_link: its stored links go, and a title change no longer touches it.
    (posts / LINKING).write_text("---\ntitle: Links between posts\n---\nNo links now.\n", encoding="utf-8")
    assert ingest(config)["updated"] == 1
    assert rows(warehouse, "SELECT count(*) FROM article_links") == [(0,)]
    target.write_text(target.read_text(encoding="utf-8").replace("Hexo 4 Is Out", "Hexo 4"), encoding="utf-8")
    last = ingest(config)
    assert (last["new"], last["updated"], last["unchanged"]) == (0, 1, 5)


def test_without_url_post_link_links_to_root_and_the_post_path(tmp_path) -> None:
    """A site without `url:`: post_link's href is Hexo's url_for(post.path), the site's `root` + the path."""
    sites = copy_sites(tmp_path)
    site = sites / "hexojs-site"
    config_file = site / "_config.yml"
    text = config_file.read_text(encoding="utf-8")
    assert "url: https://hexo.io\nroot: /\n" in text
    config_file.write_text(text.replace("url: https://hexo.io\nroot: /\n", "root: /blog\n"), encoding="utf-8")
    (site / "source" / "_posts" / LINKING).write_text(LINKS_POST, encoding="utf-8")
    config = site_config(tmp_path, sites, names=["hexojs-site"])
    config.batch_size = 2  # the targets come from the warehouse (article_paths), loaded in earlier batches
    config.reporting.enabled = False
    warehouse = tmp_path / "wh.duckdb"
    assert ingest(config)["new"] == 6
    assert rows(warehouse, "SELECT count(*) FROM articles WHERE url IS NOT NULL") == [(0,)]  # no public URLs
    html, first = _shown(warehouse)
    assert '<a href="/blog/news/2019/10/14/hexo-4-released/" title="Hexo 4.0.0 Released">' in html
    assert ('<a href="/blog/news/2014/07/13/hexo-2-8-released/" title="Hexo 2.8 Released">the 2.8 notes</a>'
            in html)
    assert first == "Read Hexo 4.0.0 Released first, then the 2.8 notes."
    assert rows(warehouse, "SELECT p.text FROM paragraphs p JOIN articles a USING (article_id) "
                           f"WHERE a.locator = '{LINKING}' AND p.position = 1") == [
        ("The newest: 41k at /blog/news/2019/10/14/hexo-4-released/.",)]  # post_path
    assert rows(warehouse, "SELECT href FROM article_paths WHERE locator = ?", [TARGET]) == [
        ("/blog/news/2019/10/14/hexo-4-released/",)]
