"""The ingest flow end to end: a real Prefect flow run, a real DuckDB file, the real posts."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

import newsetl.warehouse.articles
from newsetl.flows.ingest import ingest
from tests.helpers import make_config, rows, scalar
from newsetl.warehouse.db import connect_writer, latest_version, migrations

SEED = "金融/新浪财经/种子 seeds/工信部 '示范基地' 445家.md"


def hexo(path: Path, name: str = "archive", **extra) -> dict:
    return {"type": "hexo_dir", "name": name, "path": str(path), **extra}


def table_counts(warehouse: Path) -> dict[str, int]:
    return {t: scalar(warehouse, f"SELECT count(*) FROM {t}")
            for t in ("articles", "paragraphs", "article_images", "rejects", "source_files")}


def test_first_run_loads_every_real_post(tmp_path, posts_dir, warehouse_path):
    config = make_config(tmp_path, warehouse_path, [hexo(posts_dir)], batch_size=4)
    summary = ingest(config)
    assert summary["status"] == "completed"
    assert (summary["discovered"], summary["new"], summary["updated"], summary["unchanged"],
            summary["rejected"]) == (15, 15, 0, 0, 0)
    assert table_counts(warehouse_path)["articles"] == 15
    title, published, editor, categories, source, locator, paragraphs, images, url = rows(
        warehouse_path,
        "SELECT title, published_at, editor, categories, source, locator, paragraph_count, image_count, url "
        "FROM articles WHERE locator = ?", [SEED])[0]
    assert title == "工信部：已评选国家新型工业化产业示范基地445家"
    assert published == datetime(2022, 7, 18, 6, 30, 35, tzinfo=timezone.utc)
    assert (editor, categories, source, paragraphs, images) == (
        "王翔", ["金融", "新浪财经", "新浪财经－国內"], "archive", 4, 2)
    # child tables agree with the counts on the article row
    assert rows(warehouse_path, """
        SELECT count(*) FROM articles a WHERE paragraph_count <>
            (SELECT count(*) FROM paragraphs p WHERE p.article_id = a.article_id AND kind <> 'caption')""") == [(0,)]
    assert scalar(warehouse_path, "SELECT count(*) FROM article_images WHERE url LIKE '%343233024.png'") == 8
    assert scalar(warehouse_path, "SELECT count(*) FROM articles WHERE body_text LIKE '%海量资讯%' "
                                  "OR body_html LIKE '%appendQr%' OR body_text LIKE '%责任编辑%'") == 0
    run = rows(warehouse_path, "SELECT status, discovered, new, rejected, flow_run_id FROM ingest_runs")
    assert run[0][:4] == ("completed", 15, 15, 0) and run[0][4]


def test_rerun_over_unchanged_input_changes_no_row(tmp_path, posts_dir, warehouse_path):
    config = make_config(tmp_path, warehouse_path, [hexo(posts_dir)])
    ingest(config)
    snapshot = rows(warehouse_path, "SELECT article_id, content_hash, updated_at, run_id FROM articles ORDER BY 1")
    counts = table_counts(warehouse_path)
    summary = ingest(config)
    assert (summary["discovered"], summary["new"], summary["updated"], summary["unchanged"]) == (15, 0, 0, 15)
    assert rows(warehouse_path, "SELECT article_id, content_hash, updated_at, run_id FROM articles ORDER BY 1") \
        == snapshot
    assert table_counts(warehouse_path) == counts
    assert scalar(warehouse_path, "SELECT count(*) FROM ingest_runs") == 2


def test_article_ids_are_stable_across_locations(tmp_path, posts_dir, warehouse_path):
    ingest(make_config(tmp_path, warehouse_path, [hexo(posts_dir)]))
    moved = tmp_path / "elsewhere" / "deeper" / "posts"
    moved.parent.mkdir(parents=True)
    posts_dir.rename(moved)
    other = tmp_path / "other.duckdb"
    ingest(make_config(tmp_path, other, [hexo(moved)]))
    assert rows(warehouse_path, "SELECT article_id FROM articles ORDER BY 1") == \
        rows(other, "SELECT article_id FROM articles ORDER BY 1")


def test_changed_post_replaces_its_rows(tmp_path, posts_dir, warehouse_path):
    config = make_config(tmp_path, warehouse_path, [hexo(posts_dir)])
    ingest(config)
    article_id, first_seen = rows(warehouse_path, "SELECT article_id, first_seen_at FROM articles WHERE locator = ?",
                                  [SEED])[0]
    path = posts_dir / SEED
    text = path.read_text(encoding="utf-8")
    text = text.replace("工信部：已评选", "工信部：目前已评选").replace(
        '<div class="img_wrapper"><img id="1" src="https://n.sinaimg.cn/spider20220718/170/w640h330/20220718/'
        '17f2-1d3965fbe1f87310ef90d9bf02c28672.png" alt referrerpolicy="no-referrer"><span class="img_descr">'
        '</span></div>', "")
    path.write_text(text, encoding="utf-8")
    (posts_dir / "新文章.md").write_text("---\ntitle: 新文章\ndate: 2023-01-02 03:04:05\n---\n<p>全新的正文。</p>\n",
                                      encoding="utf-8")
    summary = ingest(config)
    assert (summary["new"], summary["updated"], summary["unchanged"]) == (1, 1, 14)
    title, images, updated_first_seen = rows(
        warehouse_path, "SELECT title, image_count, first_seen_at FROM articles WHERE article_id = ?",
        [article_id])[0]
    assert (title, images, updated_first_seen) == ("工信部：目前已评选国家新型工业化产业示范基地445家", 1, first_seen)
    assert scalar(warehouse_path, "SELECT count(*) FROM article_images WHERE article_id = ?", [article_id]) == 2
    assert scalar(warehouse_path, "SELECT count(*) FROM paragraphs WHERE article_id = ?", [article_id]) == 4
    assert rows(warehouse_path, "SELECT published_at FROM articles WHERE title = '新文章'") == \
        [(datetime(2023, 1, 2, 3, 4, 5, tzinfo=timezone.utc),)]


BAD_POSTS = {
    "坏/no front matter.md": ("parse", "no front matter", b"<p>just html</p>\n"),
    "坏/broken yaml.md": ("parse", "invalid YAML front matter", b"---\ntitle: 'unterminated\n---\n<p>x</p>\n"),
    "坏/binary.md": ("read", "not a text file", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    "坏/latin1 bytes.md": ("read", "undecodable bytes", "---\ntitle: caf\xe9\n---\n<p>x</p>\n".encode("latin-1")),
    "坏/empty body.md": ("parse", "empty body", b"---\ntitle: nothing below\n---\n\n"),
    "坏/only boilerplate.md": ("clean", "no article text", "---\ntitle: promo\n---\n<p>责任编辑：某人</p>\n"
                                                          "<style>.x{}</style>\n".encode()),
}


def test_bad_posts_become_rejects_and_the_run_goes_on(tmp_path, posts_dir, warehouse_path):
    for name, (_, _, data) in BAD_POSTS.items():
        target = posts_dir / name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(data)
    config = make_config(tmp_path, warehouse_path, [hexo(posts_dir)])
    summary = ingest(config)
    assert summary["status"] == "completed"
    assert (summary["new"], summary["rejected"]) == (15, len(BAD_POSTS))
    found = {loc: (stage, error) for loc, stage, error in rows(warehouse_path,
                                                               "SELECT locator, stage, error FROM rejects")}
    assert set(found) == set(BAD_POSTS)
    for name, (stage, reason, _) in BAD_POSTS.items():
        assert found[name][0] == stage
        assert reason in found[name][1]
    # unchanged bad files are not re-rejected on the next run
    again = ingest(config)
    assert (again["rejected"], again["unchanged"]) == (0, 15 + len(BAD_POSTS))
    assert scalar(warehouse_path, "SELECT count(*) FROM rejects") == len(BAD_POSTS)


def test_missing_folder_is_a_reject_and_makes_the_run_partial(tmp_path, posts_dir, warehouse_path):
    config = make_config(tmp_path, warehouse_path, [hexo(posts_dir), hexo(tmp_path / "nope", name="gone")])
    summary = ingest(config)
    assert summary["status"] == "partial"
    assert summary["new"] == 15
    assert rows(warehouse_path, "SELECT source, stage FROM rejects") == [("gone", "discover")]


def test_crash_mid_batch_leaves_no_half_loaded_article(tmp_path, posts_dir, warehouse_path, monkeypatch):
    config = make_config(tmp_path, warehouse_path, [hexo(posts_dir)], batch_size=5)
    real_insert = newsetl.warehouse.articles._insert
    calls = {"images": 0}

    def failing_insert(con, table, data, verb="INSERT"):
        if table == "article_images":
            calls["images"] += 1
            if calls["images"] == 2:  # the second batch dies between its article and image inserts
                raise OSError("disk full")
        real_insert(con, table, data, verb)

    monkeypatch.setattr(newsetl.warehouse.articles, "_insert", failing_insert)
    with pytest.raises(OSError):
        ingest(config)
    assert scalar(warehouse_path, "SELECT count(*) FROM articles") == 5  # only the first batch
    assert scalar(warehouse_path, "SELECT count(DISTINCT article_id) FROM article_images") == 5
    assert rows(warehouse_path, "SELECT status FROM ingest_runs") == [("failed",)]
    monkeypatch.setattr(newsetl.warehouse.articles, "_insert", real_insert)
    summary = ingest(config)
    assert (summary["new"], summary["unchanged"]) == (10, 5)


def test_old_warehouse_upgrades_in_place(tmp_path, posts_dir, warehouse_path):
    import duckdb

    warehouse_path.parent.mkdir(parents=True)
    con = duckdb.connect(str(warehouse_path))
    version, name, sql = migrations()[0]
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMPTZ NOT NULL)")
    con.execute(sql)
    con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [version, name])
    con.close()
    ingest(make_config(tmp_path, warehouse_path, [hexo(posts_dir)]))
    assert scalar(warehouse_path, "SELECT max(version) FROM schema_version") == latest_version()
    assert scalar(warehouse_path, "SELECT count(*) FROM articles") == 15
    connect_writer(warehouse_path).close()  # idempotent
    assert scalar(warehouse_path, "SELECT count(*) FROM schema_version") == len(migrations())


def test_images_step_that_stops_leaves_the_run_partial_not_failed(tmp_path, posts_dir, warehouse_path,
                                                                  monkeypatch):
    import newsetl.flows.images

    def timed_out(*args, **kwargs):
        raise TimeoutError("Task run exceeded timeout of 3600.0 second(s)")

    monkeypatch.setattr(newsetl.flows.images, "images_task", timed_out)
    config = make_config(tmp_path, warehouse_path, [hexo(posts_dir)], images={"enabled": True})
    summary = ingest(config)
    assert (summary["status"], summary["new"]) == ("partial", 15)
    assert summary["message"] == "images step stopped: TimeoutError: Task run exceeded timeout of 3600.0 second(s)"
    assert rows(warehouse_path, "SELECT status FROM ingest_runs") == [("partial",)]
    assert scalar(warehouse_path, "SELECT count(*) FROM articles") == 15
