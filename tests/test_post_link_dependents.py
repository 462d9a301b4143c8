"""Issue 13: a post that links to another with `{% post_link %}` is rendered again, in the same run, when the
other post's title or URL changes, although its own file did not change (as Hexo regenerates it)."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from newsetl.flows.ingest import ingest
from newsetl.models import InputRef, RawPost
from newsetl.posts.link_targets import DeferredPost, LinkTarget
from newsetl.posts.options import PostOptions
from newsetl.posts.post_links import DeferredLinks

from helpers import rows
from test_hexo_flow import LINKS_POST, copy_sites, site_config

LINKING = "2026-06-01-links.md"
TARGET = "2019-10-14-hexo-4-released.md"

_opened: Counter[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], (str, Path)):
        _opened[str(args[0])] += 1


sys.addaudithook(_audit)  # counts only while `_opened` is set (audit hooks cannot be removed)


def _shown(warehouse):
    [(html,)] = rows(warehouse, f"SELECT body_html FROM articles WHERE locator = '{LINKING}'")
    first = rows(warehouse, "SELECT p.text FROM paragraphs p JOIN articles a USING (article_id) "
                            f"WHERE a.locator = '{LINKING}' ORDER BY p.position LIMIT 1")
    return html, first[0][0]


def test_a_changed_title_renders_the_unchanged_posts_that_link_to_it_again(tmp_path) -> None:
    sites = copy_sites(tmp_path)
    posts = sites / "hexojs-site" / "source" / "_posts"
    (posts / LINKING).write_text(LINKS_POST, encoding="utf-8")
    # Written long enough ago for its stat to be trusted (a file modified within 2 s of a run is hashed
    # again by the next run: it would then be read by that hash and once more to be rendered again).
    os.utime(posts / LINKING, (time.time() - 60, time.time() - 60))
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

    # Only the targets' files change: the linking post shows the new title in the same run; the post it
    # named by its old title is no longer found (its text stays, a warning says so).
    target = posts / TARGET
    target.write_text(target.read_text(encoding="utf-8").replace("title: Hexo 4.0.0 Released",
                                                                 "title: Hexo 4 Is Out"), encoding="utf-8")
    by_title = posts / "2014-07-13-hexo-2-8-released.md"
    by_title.write_text(by_title.read_text(encoding="utf-8").replace("title: Hexo 2.8 Released",
                                                                     "title: Hexo 2.8"), encoding="utf-8")
    global _opened
    _opened = Counter()
    try:
        changed = ingest(config)
    finally:
        opened, _opened = _opened, None
    assert (changed["discovered"], changed["new"], changed["updated"], changed["unchanged"],
            changed["rejected"], changed["skipped"]) == (7, 0, 3, 3, 0, 1)  # the site's draft: discovered, skipped
    other = "2019-12-24-how-we-make-hexo-30-percent-faster.md"
    # each changed or re-rendered file is read once, an unchanged one not at all
    assert [opened[str(posts / name)] for name in (LINKING, TARGET, other)] == [1, 1, 0]
    html, first = _shown(warehouse)
    assert ('<a href="https://hexo.io/news/2019/10/14/hexo-4-released/" title="Hexo 4 Is Out">Hexo 4 Is Out</a>'
            in html)
    assert "2.8 notes</a>" not in html
    assert first == "Read Hexo 4 Is Out first, then the 2.8 notes."
    assert rows(warehouse, f"SELECT warnings FROM articles WHERE locator = '{LINKING}'") == [
        (["post_link: no post 'Hexo 2.8 Released' in this site",
          "post_link: no post 'hexo-5-released' in this site"],)]
    assert rows(warehouse, "SELECT target, title FROM article_links WHERE target IN ('hexo-4-released', "
                           "'Hexo 2.8 Released') ORDER BY 1") == [("Hexo 2.8 Released", None),
                                                                   ("hexo-4-released", "Hexo 4 Is Out")]
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
    assert (last["new"], last["updated"], last["unchanged"], last["skipped"], last["discovered"]) == (0, 1, 5, 1, 7)


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


def test_deferred_posts_replace_their_stored_version_as_link_targets() -> None:
    """A post prepared again in this run is found by its new title only, not by its stored old one."""
    def deferred(locator: str, title: str, names: list[str]) -> DeferredPost:
        raw = RawPost(InputRef("s", "hexo_dir", locator, locator, "h", 0), "")
        return DeferredPost(raw, names, title, f"/{locator}")

    links = DeferredLinks({"s": PostOptions(ZoneInfo("UTC"))})
    links.posts = [deferred("b.md", "New B", []), deferred("c.md", "C", ["Old B", "New B", "a", "b"])]
    stored = [("a.md", "A", "/a"), ("b.md", "Old B", "/b-old")]  # the warehouse: b.md's previous version
    [targets] = links.targets(lambda source: iter(stored)).values()
    assert targets.find("Old B") is None
    assert targets.find("New B") == targets.find("b") == LinkTarget("New B", "/b.md")
    assert targets.find("a") == LinkTarget("A", "/a")


def test_backfill_renders_the_posts_linking_to_a_backfilled_post_again(tmp_path) -> None:
    from datetime import date

    from newsetl.flows.backfill import Selection, backfill

    sites = copy_sites(tmp_path)
    posts = sites / "hexojs-site" / "source" / "_posts"
    (posts / LINKING).write_text(LINKS_POST, encoding="utf-8")
    config = site_config(tmp_path, sites, names=["hexojs-site"])
    config.reporting.enabled = False
    warehouse = tmp_path / "wh.duckdb"
    assert ingest(config)["new"] == 6
    target = posts / TARGET
    target.write_text(target.read_text(encoding="utf-8").replace("title: Hexo 4.0.0 Released",
                                                                 "title: Hexo 4 Is Out"), encoding="utf-8")
    # Only the target is selected; the post linking to it, outside the selection, is rendered again too.
    result = backfill(config, Selection(since=date(2019, 10, 13), until=date(2019, 10, 15), source="hexojs-site"))
    assert (result["status"], result["discovered"], result["updated"], result["unchanged"], result["rejected"]) == (
        "completed", 2, 2, 0, 0)
    html, first = _shown(warehouse)
    assert 'title="Hexo 4 Is Out">Hexo 4 Is Out</a>' in html and first.startswith("Read Hexo 4 Is Out first")
    again = ingest(config)
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 6)
