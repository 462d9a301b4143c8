"""Stable identity: the same post file through a parent folder, a child folder, the file itself or its configured
source is one article (same source name, same locator relative to the same root), in any order."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from helpers import rows
from newsetl.cli import main
from newsetl.config import HexoDirSource
from newsetl.posts.roots import sources_for_paths

POSTS = Path(__file__).resolve().parent / "fixtures" / "posts"
SINA = "金融/新浪财经/新浪财经－国內/1-2月31个省市区一般公共预算收入全部正增长.md"


def _setup(tmp_path: Path, sources: list[dict] | None = None) -> tuple[Path, Path]:
    posts = tmp_path / "archive" / "posts"
    shutil.copytree(POSTS, posts)
    config = tmp_path / "newsetl.yaml"
    config.write_text(yaml.safe_dump({"warehouse": "wh.duckdb", "images": {"enabled": False},
                                      "reporting": {"enabled": False}, "sources": sources or []},
                                     allow_unicode=True), encoding="utf-8")
    return posts, config


def _articles(tmp_path: Path) -> list[tuple]:
    return rows(tmp_path / "wh.duckdb", "SELECT source, locator FROM articles ORDER BY locator")


def _last_run(tmp_path: Path) -> tuple:
    return rows(tmp_path / "wh.duckdb", "SELECT new, updated, unchanged, sources FROM ingest_runs "
                                        "ORDER BY started_at DESC LIMIT 1")[0]


def test_child_then_parent_then_one_file_is_one_article_per_file(tmp_path: Path) -> None:
    posts, config = _setup(tmp_path)
    assert main(["ingest", str(posts / "金融"), "--config", str(config)]) == 0
    assert _last_run(tmp_path) == (10, 0, 0, ["金融"])

    # The parent: the child's subtree keeps its source and locators, the rest is new under the parent's name.
    assert main(["ingest", str(posts), "--config", str(config)]) == 0
    assert _last_run(tmp_path) == (5, 0, 10, ["posts", "金融"])
    articles = _articles(tmp_path)
    assert len(articles) == 15 == len(set(articles))
    assert ("金融", SINA.removeprefix("金融/")) in articles
    assert sum(1 for source, _ in articles if source == "posts") == 5

    # A grandchild folder and a single file, given together: the recorded roots own them, nothing is new.
    assert main(["ingest", str(posts / "金融" / "新浪财经"), str(posts / SINA), str(posts / "新媒体" / "36kr"),
                 "--config", str(config)]) == 0
    assert _last_run(tmp_path) == (0, 0, 10, ["posts", "金融"])
    assert _articles(tmp_path) == articles
    assert rows(tmp_path / "wh.duckdb", "SELECT source, root FROM source_roots ORDER BY source") == [
        ("posts", str(posts)), ("金融", str(posts / "金融"))]

    # Backfill finds the post files of ad-hoc sources through their recorded roots: all 15 re-read, none missing.
    assert main(["backfill", "--since", "2000-01-01", "--config", str(config)]) == 0
    run = rows(tmp_path / "wh.duckdb", "SELECT status, discovered, rejected FROM ingest_runs "
                                       "ORDER BY started_at DESC LIMIT 1")[0]
    assert run == ("completed", 15, 0)
    assert _articles(tmp_path) == articles


def test_a_path_under_a_configured_source_is_that_source(tmp_path: Path) -> None:
    posts, config = _setup(tmp_path, [{"type": "hexo_dir", "name": "archive", "path": "archive/posts"}])
    assert main(["ingest", str(posts / "金融" / "新浪财经"), "--config", str(config)]) == 0
    assert _last_run(tmp_path) == (8, 0, 0, ["archive"])
    assert ("archive", SINA) in _articles(tmp_path)

    assert main(["ingest", "--config", str(config)]) == 0  # the configured source: only the other 7 are new
    assert _last_run(tmp_path) == (7, 0, 8, ["archive"])
    assert {source for source, _ in _articles(tmp_path)} == {"archive"}
    assert rows(tmp_path / "wh.duckdb", "SELECT count(*) FROM source_roots") == [(0,)]


def test_root_rule_without_a_warehouse(tmp_path: Path) -> None:
    site = tmp_path / "blog" / "source" / "_posts"
    (site / "2021").mkdir(parents=True)
    (site / "2021" / "a.md").write_text("---\ntitle: a\n---\nbody\n", encoding="utf-8")
    other = tmp_path / "other" / "blog"
    other.mkdir(parents=True)

    # Inside a Hexo `_posts` folder: the root is `_posts`, named after the site folder.
    found = sources_for_paths([str(site / "2021")], [], {})
    assert [(s.name, s.path, s.globs) for s in found.sources] == [("blog", site, ["2021/**/*.md"])]
    assert found.new_roots == {str(site): "blog"}
    found = sources_for_paths([str(site / "2021" / "a.md")], [], {str(site): "blog"})
    assert [(s.name, s.path, s.globs) for s in found.sources] == [("blog", site, ["2021/a.md"])]
    assert found.new_roots == {}

    # A new root whose name another root already has gets a suffix, never the other root's identity.
    found = sources_for_paths([str(other)], [(HexoDirSource(name="blog", path=Path("x")), site)], {})
    assert [s.name for s in found.sources] == ["blog-2"]

    # A parent of a known root leaves the known root's subtree to it.
    found = sources_for_paths([str(tmp_path / "blog")], [], {str(site): "blog"})
    by_name = {s.name: s for s in found.sources}
    assert set(by_name) == {"blog", "blog-2"}
    assert by_name["blog"].path == site and by_name["blog-2"].exclude == ["source/_posts/*"]
