"""A source that cannot be used at all (here: a Hexo site whose `_config.yml` is broken) is a recorded
`discover` reject that makes the run partial; the other sources still load."""

from __future__ import annotations

import shutil

from newsetl.flows.ingest import ingest
from tests.helpers import make_config, rows, scalar


def test_broken_site_config_rejects_that_source_and_the_run_goes_on(tmp_path, posts_dir, warehouse_path):
    site = tmp_path / "site"
    (site / "source" / "_posts").mkdir(parents=True)
    shutil.copy(next(posts_dir.rglob("*.md")), site / "source" / "_posts" / "a-post.md")
    (site / "_config.yml").write_text("title: [unclosed\n", encoding="utf-8")
    config = make_config(tmp_path, warehouse_path, [
        {"type": "hexo_dir", "name": "site", "path": str(site)},
        {"type": "hexo_dir", "name": "archive", "path": str(posts_dir)},
    ])
    summary = ingest(config)
    posts = len(list(posts_dir.rglob("*.md")))
    assert summary["status"] == "partial"
    assert summary["new"] == posts and summary["rejected"] == 1
    assert summary["discovered"] == summary["new"] + summary["unchanged"] + summary["rejected"]
    assert scalar(warehouse_path, "SELECT count(*) FROM articles WHERE source = 'archive'") == posts
    (stage, error), = rows(warehouse_path, "SELECT stage, error FROM rejects WHERE source = 'site'")
    assert stage == "discover"
    assert error.startswith(f"{site / '_config.yml'}: invalid YAML: ") and "\n" not in error
