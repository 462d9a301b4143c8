"""Each post file is read once per run, and the rules file is loaded once per run (counted with an audit hook)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from newsetl.flows.ingest import ingest
from newsetl.rules import load_rules
from tests.helpers import make_config, scalar

_opened: Counter[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], (str, Path)):
        _opened[str(args[0])] += 1


sys.addaudithook(_audit)  # audit hooks cannot be removed: it only counts while `_opened` is set


def test_each_post_file_and_the_rules_file_are_read_once_per_run(tmp_path, posts_dir, warehouse_path):
    global _opened
    rules = tmp_path / "rules.yaml"
    rules.write_text((Path(__file__).parent.parent / "newsetl" / "site_rules.yaml").read_text(encoding="utf-8"),
                     encoding="utf-8")
    load_rules(rules)  # the same rules as the bundled ones, from a file we can count
    config = make_config(tmp_path, warehouse_path, [{"type": "hexo_dir", "name": "archive", "path": str(posts_dir)}],
                         rules=str(rules))
    posts = sorted(str(p) for p in posts_dir.rglob("*.md"))
    _opened = Counter()
    try:
        summary = ingest(config)
    finally:
        opened, _opened = _opened, None
    assert summary["status"] == "completed"
    assert summary["new"] == scalar(warehouse_path, "SELECT count(*) FROM articles") == len(posts)
    assert {path: opened[path] for path in posts} == {path: 1 for path in posts}
    assert opened[str(rules)] == 1
