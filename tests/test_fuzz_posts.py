"""Fuzz: hundreds of hostile mutations of the real posts through the real ingest flow (issue 11).

The corpus comes from tests/hostile_posts.py (seeded: the same files on every machine): byte flips,
truncation, hostile YAML (alias bombs, self-referencing anchors, duplicate keys, wrong types, dates out of
range, 5,000-deep nesting), encodings (UTF-16/32 and UTF-8 byte-order marks, lone surrogates, NUL, GB18030,
Latin-1), control characters, deep HTML nesting, huge lines, plus a symlink loop and a link out of the root.
The run must not fail, every input must be accounted for, and every reject must say where and why in a line.
"""

from __future__ import annotations

import random
from pathlib import Path

from hostile_posts import alias_bomb, deep_html, mutants, real_posts, write_corpus
from newsetl.config import config_from_dict
from newsetl.flows.ingest import ingest
from tests.helpers import rows

COUNT = 400
SEED = 20261130
STAGES = {"read", "parse", "clean", "prepare"}


def test_hostile_corpus_never_fails_the_run_and_every_input_is_accounted_for(tmp_path: Path):
    posts = tmp_path / "posts"
    written = write_corpus(posts, mutants(COUNT, SEED, heavy_share=0.03))
    name, data = real_posts()[0]
    rng = random.Random(SEED)
    (posts / "nasty").mkdir()
    (posts / "nasty" / "bomb.md").write_bytes(alias_bomb(rng, data, levels=12))
    (posts / "nasty" / "deep.md").write_bytes(deep_html(rng, data, depth=20_000))
    (posts / "nasty" / "feb30.md").write_bytes(data.replace(b"date: ", b"date: 2021-02-30\nx: ", 1))
    (posts / "nasty" / "loop.md").symlink_to(posts / "nasty" / "loop.md")
    (posts / "nasty" / "out.md").symlink_to(tmp_path / "outside.md")
    (tmp_path / "outside.md").write_bytes(data)
    config = config_from_dict({"warehouse": str(tmp_path / "wh.duckdb"), "images": {"enabled": False},
                               "reporting": {"enabled": False}, "batch_size": 100, "runner": {"kind": "threads"},
                               "sources": [{"name": "fuzz", "type": "hexo_dir", "path": str(posts)}]},
                              base_dir=tmp_path)
    warehouse = config.resolve(config.warehouse)

    summary = ingest(config)
    assert summary["status"] == "completed", summary["message"]
    assert summary["discovered"] == written + 5
    assert summary["discovered"] == (summary["new"] + summary["updated"] + summary["unchanged"]
                                     + summary["rejected"] + summary["skipped"])
    assert summary["new"] > written // 5  # many mutations still leave a post worth loading
    assert rows(warehouse, "SELECT count(*) FROM articles")[0][0] == summary["new"]
    rejects = rows(warehouse, "SELECT locator, stage, error FROM rejects")
    assert len(rejects) == summary["rejected"]
    for locator, stage, error in rejects:
        assert stage in STAGES and error and "\n" not in error and len(error) <= 400, (locator, stage, error)
    by_locator = {locator: (stage, error) for locator, stage, error in rejects}
    assert by_locator["nasty/bomb.md"] == (
        "parse", "front matter too big: more than 10,000 values once its aliases are expanded")
    assert by_locator["nasty/feb30.md"] == (
        "parse", "invalid value in front matter: ValueError: day is out of range for month")
    assert by_locator["nasty/loop.md"] == ("read", "symlink loop (a link that leads back to itself)")
    assert by_locator["nasty/out.md"][1].startswith("symlink leads outside the source root")
    assert {stage for stage, _ in by_locator.values()} >= {"read", "parse", "clean"}
    assert rows(warehouse, "SELECT body_text LIKE '%深处的文字%' FROM articles "
                           "WHERE locator = 'nasty/deep.md'") == [
        (True,)]

    again = ingest(config)  # nothing changed: loaded and rejected files alike are unchanged, links re-checked
    assert (again["status"], again["discovered"], again["new"], again["updated"]) == (
        "completed", summary["discovered"], 0, 0)
    assert again["discovered"] == again["unchanged"] + again["rejected"] + again["skipped"]
