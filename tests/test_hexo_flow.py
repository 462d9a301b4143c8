"""Hexo sites through the real ingest flow into a real DuckDB file (issue 13): site configs, drafts, reruns,
a post-asset-folder site whose images are read from disk, verified and stored (no HTTP at all), and the
generator's HTML posts giving the same rows as before the Hexo support."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
from PIL import Image

from newsetl.config import config_from_dict
from newsetl.flows.ingest import ingest
from newsetl.runs import RunSummary, counts_line, run_markdown
from newsetl.warehouse.runs import recent_runs

from helpers import rows, scalar

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HEXO = FIXTURES / "hexo"
SITES = ("hexojs-site", "suka-unit-test", "huzhenghui")
ASSETS = "local:hexojs-site/source/_posts/"


def copy_sites(tmp_path: Path) -> Path:
    target = tmp_path / "sites"
    for name in SITES:
        shutil.copytree(HEXO / name, target / name)
    return target


def site_config(tmp_path: Path, sites: Path, names=SITES, images: dict | None = None):
    return config_from_dict({
        "warehouse": str(tmp_path / "wh.duckdb"),
        "images": images or {"enabled": False},
        "sources": [{"type": "hexo_dir", "name": name, "path": str(sites / name)} for name in names],
    }, base_dir=tmp_path)


def test_three_hexo_sites_ingest_rerun_and_config_change(tmp_path) -> None:
    sites = copy_sites(tmp_path)
    config = site_config(tmp_path, sites)
    first = ingest(config)
    # 25 posts under the three _posts/ folders and one draft in hexojs-site's source/_drafts/; long-title.md is
    # `published: false`: it and the draft are skipped and counted (discovered), neither rejected.
    assert (first["discovered"], first["new"], first["rejected"], first["skipped"]) == (26, 24, 0, 2)
    warehouse = tmp_path / "wh.duckdb"
    assert rows(warehouse, "SELECT skipped, rejected FROM ingest_runs") == [(2, 0)]
    # Everywhere a run's counts are shown, they add up: the CLI's line, the Prefect UI's table, `newsetl runs`,
    # the run_history view (and the report, which reads it).
    assert counts_line(first) == "26 discovered, 24 new, 0 updated, 0 unchanged, 0 rejected, 2 skipped (not published)"
    assert "| 26 | 24 | 0 | 0 | 0 | 2 |" in run_markdown(RunSummary(**{
        k: v for k, v in first.items() if k in RunSummary.__dataclass_fields__}))
    assert rows(warehouse, "SELECT discovered, new, rejected, skipped FROM run_history") == [(26, 24, 0, 2)]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns, listed = recent_runs(con, 5)
    assert dict(zip(columns, listed[0]))["skipped"] == 2
    assert rows(warehouse, "SELECT source, count(*), count(published_at), count(url) FROM articles "
                           "GROUP BY source ORDER BY source") == [
        ("hexojs-site", 5, 5, 5), ("huzhenghui", 7, 7, 7), ("suka-unit-test", 12, 12, 12)]
    assert rows(warehouse, "SELECT date_source, count(*) FROM articles GROUP BY 1 ORDER BY 1") == [
        ("file_name", 4), ("front_matter", 20)]
    assert rows(warehouse, "SELECT title, tags, categories, category_paths, lang, warnings FROM articles "
                           "WHERE locator = 'Hexo-Front-Matter.md'") == [
        ("Hexo Front Matter", ["Hexo", "Front matter"], ["Hexo", "Learn"], [["Hexo", "Learn"]], None, [])]
    assert rows(warehouse, "SELECT kind, count(*) FROM paragraphs GROUP BY kind ORDER BY kind") == [
        ("code", 116), ("embed", 3), ("heading", 138), ("list", 101), ("quote", 23), ("table", 8), ("text", 184)]
    # 26 of those list items are loose (`<li><p>…</p></li>`, e.g. hexojs-site's "Advice" list): list, not text
    assert rows(warehouse, "SELECT p.kind, count(*) FROM paragraphs AS p JOIN articles AS a USING (article_id) "
                           "WHERE a.locator LIKE '2026-05-08-%' AND p.text LIKE 'Keep your software%' "
                           "GROUP BY 1") == [("list", 1)]
    assert scalar(warehouse, "SELECT count(*) FROM paragraphs WHERE kind = 'heading' AND level IS NULL") == 0

    again = ingest(config)  # nothing changed: every loaded file skipped before parsing (the unpublished one
    assert (again["unchanged"], again["new"], again["updated"], again["skipped"]) == (24, 0, 0, 2)  # is re-read)
    for run in (first, again):  # the draft in _drafts/ is discovered too: the counts add up
        assert run["discovered"] == run["new"] + run["updated"] + run["unchanged"] + run["rejected"] + run["skipped"]

    # The site's permalink changes: every post of that site is read again, and its URL follows.
    conf = sites / "suka-unit-test" / "_config.yml"
    conf.write_text(conf.read_text().replace("permalink: :year/:month/:day/:title/", "permalink: posts/:title/"))
    changed = ingest(config)
    assert (changed["updated"], changed["unchanged"]) == (12, 12)
    assert rows(warehouse, "SELECT url FROM articles WHERE locator = 'tags.md'") == [
        ("https://theme.suka.moe/demo/posts/tags/",)]


def test_post_asset_folder_images_are_read_from_disk_verified_and_stored(tmp_path) -> None:
    sites = copy_sites(tmp_path)
    config = site_config(tmp_path, sites, names=["hexojs-site"],
                         images={"store": "images", "retries": 0, "block_private": True})
    summary = ingest(config)
    assert (summary["new"], summary["skipped"]) == (5, 1)
    warehouse = tmp_path / "wh.duckdb"
    fetches = rows(warehouse, "SELECT url, host, status, reason FROM image_fetches ORDER BY url")
    assert fetches == [
        (ASSETS + "2014-07-13-hexo-2-8-released/generate-console.png", "(local)", "ok", None),
        (ASSETS + "2020-07-25-create-a-minimalist-blog-with-hexo/minimalist/site1-devtools-network.png",
         "(local)", "failed", "missing"),  # the post cites a folder that does not exist, as in the real repo
        (ASSETS + "2026-05-08-hexo-lost-41k-github-stars-with-one-command/github-cli-repo-edit.webp",
         "(local)", "ok", None),
        (ASSETS + "2026-05-08-hexo-lost-41k-github-stars-with-one-command/hexojs-audit-log.webp",
         "(local)", "ok", None),
        (ASSETS + "2026-05-08-hexo-lost-41k-github-stars-with-one-command/star-history.webp",
         "(local)", "ok", None)]
    stored = rows(warehouse, "SELECT format, width, height, path FROM images ORDER BY width")
    assert [s[:3] for s in stored] == [("WEBP", 64, 48), ("WEBP", 72, 36), ("WEBP", 80, 40), ("PNG", 96, 48)]
    source = sites / "hexojs-site" / "source" / "_posts" / "2014-07-13-hexo-2-8-released" / "generate-console.png"
    png = Path(next(path for fmt, _, _, path in stored if fmt == "PNG")).name  # <sha256>.png, in the store
    assert next((tmp_path / "images").rglob(png)).read_bytes() == source.read_bytes()
    assert scalar(warehouse, "SELECT count(*) FROM article_images WHERE sha256 IS NOT NULL") == 4

    # A changed asset file updates its image on the next run; the unchanged ones are only re-checked.
    star = source.parent.parent / "2026-05-08-hexo-lost-41k-github-stars-with-one-command" / "star-history.webp"
    Image.new("RGB", (33, 22), (200, 10, 10)).save(star, lossless=True)
    ingest(config)
    assert rows(warehouse, "SELECT i.width, i.height FROM image_fetches f JOIN images i USING (sha256) "
                           "WHERE f.url LIKE '%star-history.webp'") == [(33, 22)]
    assert rows(warehouse, "SELECT i.width FROM article_images a JOIN images i USING (sha256) "
                           "WHERE a.url LIKE '%star-history.webp'") == [(33,)]


def test_generator_html_posts_give_the_same_rows_as_before(tmp_path) -> None:
    """tests/fixtures/hexo/generator_rows.json was written by make_generator_rows.py with the code before
    issue 13; if another change alters these rows on purpose, run that script again."""
    import sys

    sys.path.insert(0, str(HEXO))
    from make_generator_rows import ingest_generator_posts, snapshot

    expected = json.loads((HEXO / "generator_rows.json").read_text(encoding="utf-8"))
    actual = json.loads(json.dumps(snapshot(ingest_generator_posts(tmp_path)), ensure_ascii=False))
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert actual[key] == expected[key], key
    assert rows(tmp_path / "wh.duckdb", "SELECT DISTINCT body_format FROM articles") == [("html",)]


def test_backfill_records_the_same_file_hash_as_ingest(tmp_path) -> None:
    """A site's file hashes include its settings' fingerprint; backfill records them the same way, so the
    next ingest finds every post unchanged and reads none of them."""
    from newsetl.flows.backfill import Selection, backfill

    sites = copy_sites(tmp_path)
    config = site_config(tmp_path, sites, names=("huzhenghui",))
    ingest(config)
    warehouse = tmp_path / "wh.duckdb"
    hashes = "SELECT locator, file_hash FROM source_files ORDER BY locator"
    before = rows(warehouse, hashes)
    reloaded = backfill(config, Selection())
    assert (reloaded["status"], reloaded["updated"] + reloaded["unchanged"]) == ("completed", 7)
    assert rows(warehouse, hashes) == before
    # backfill also prepares the post using post_link after the others, so its links resolve as in the ingest
    assert scalar(warehouse, "SELECT body_html FROM articles WHERE locator = 'Hexo-Tag-Plugins.md'").count(
        '<a href="http://yoursite.com/2019/10/16/Hexo-Commands/" title="Hexo Commands">Hexo Commands</a>') == 1
    again = ingest(config)
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 7)


# Ours (not from a real blog): a post of the hexojs-site fixture linking to the real posts of that site by slug
# (`:title` of its `new_post_name`, i.e. without the date), by title, with custom HTML text, and to no post.
LINKS_POST = """---
title: Links between posts
date: 2026-06-01 09:00:00
---
Read {% post_link hexo-4-released %} first, then {% post_link 'Hexo 2.8 Released' 'the 2.8 notes' %}.

The newest: {% post_link hexo-lost-41k-github-stars-with-one-command <b>41k</b> false %} at {% post_path hexo-4-released %}.

{% post_link hexo-5-released %} does not exist.
"""


def test_post_link_shows_the_target_title_and_url_whatever_the_batch_order(tmp_path) -> None:
    sites = copy_sites(tmp_path)
    posts = sites / "hexojs-site" / "source" / "_posts"
    (posts / "2026-06-01-links.md").write_text(LINKS_POST, encoding="utf-8")
    config = site_config(tmp_path, sites, names=["hexojs-site"])
    config.batch_size = 2  # the targets are prepared in other batches, before and after the linking post
    first = ingest(config)
    assert (first["new"], first["updated"], first["rejected"]) == (6, 0, 0)
    warehouse = tmp_path / "wh.duckdb"
    query = ("SELECT body_html, warnings FROM articles WHERE locator = '2026-06-01-links.md'")
    [(html, warnings)] = rows(warehouse, query)
    assert ('<a href="https://hexo.io/news/2019/10/14/hexo-4-released/" title="Hexo 4.0.0 Released">'
            'Hexo 4.0.0 Released</a>') in html
    assert ('<a href="https://hexo.io/news/2014/07/13/hexo-2-8-released/" title="Hexo 2.8 Released">'
            'the 2.8 notes</a>') in html  # found by its title, as Hexo does when no slug matches
    assert rows(warehouse, "SELECT p.text FROM paragraphs p JOIN articles a USING (article_id) "
                           "WHERE a.locator = '2026-06-01-links.md' ORDER BY p.position") == [
        ("Read Hexo 4.0.0 Released first, then the 2.8 notes.",),
        ("The newest: 41k at https://hexo.io/news/2019/10/14/hexo-4-released/.",),
        ("hexo-5-released does not exist.",)]
    assert warnings == ["post_link: no post 'hexo-5-released' in this site"]

    again = ingest(config)  # nothing changed: nothing read, nothing loaded
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 6)
    # The linking post changes: prepared again, its targets now come from the warehouse.
    (posts / "2026-06-01-links.md").write_text(LINKS_POST + "\nOne more line.\n", encoding="utf-8")
    changed = ingest(config)
    assert (changed["new"], changed["updated"], changed["unchanged"]) == (0, 1, 5)
    [(html2, warnings2)] = rows(warehouse, query)
    assert 'title="Hexo 4.0.0 Released">Hexo 4.0.0 Released</a>' in html2 and "One more line." in html2
    assert warnings2 == warnings


def test_migration_012_gives_rows_loaded_before_their_one_hierarchy(tmp_path) -> None:
    """An old warehouse (migrations up to 011) upgrades in place: a flat `categories` list is one hierarchy."""
    from datetime import datetime, timezone

    import duckdb

    from newsetl.warehouse.db import connect_writer, migrations

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version "
                "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
    for version, name, sql in migrations():
        if version < 12:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [version, name, datetime.now(timezone.utc)])
    for article_id, categories in (("a", ["Hexo", "Learn"]), ("b", []), ("c", None)):
        con.execute("INSERT INTO articles (article_id, source, source_type, locator, title, categories, "
                    "content_hash, first_seen_at, updated_at, run_id) VALUES (?, 's', 'hexo_dir', ?, 't', ?, 'h', "
                    "now(), now(), 'r')", [article_id, article_id + ".md", categories])
    con.close()
    connect_writer(path).close()
    assert rows(path, "SELECT article_id, category_paths FROM articles ORDER BY 1") == [
        ("a", [["Hexo", "Learn"]]), ("b", []), ("c", None)]
