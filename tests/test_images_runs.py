"""Images across runs: reuse, revalidation (ETag / Last-Modified -> 304), retry limits, --retry-failed."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from imageserver import Reply
from images_helpers import add_article, fetch_row, make_config, open_warehouse, store_files
from newsetl.images.pipeline import fetch_images
from newsetl.images.plan import parse_since
from newsetl.images.register import register_images

PNG, JPEG = "badge.png", "skyline.jpg"


def test_second_run_reuses_without_a_request_and_changes_no_row(tmp_path, server, pics):
    url = server.route("/a.png", Reply(body=pics[PNG], etag='"v1"'))
    config = make_config(tmp_path, server=server)
    con = open_warehouse(config)
    add_article(con, "p.md", [url])
    first = fetch_images(con, config)
    before = con.execute("SELECT * FROM image_fetches").fetchall()
    second = fetch_images(con, config)
    assert (first.fetched, second.fetched, second.reused, second.revalidated) == (1, 0, 1, 0)
    assert server.hits["/a.png"] == 1
    assert con.execute("SELECT * FROM image_fetches").fetchall() == before


def test_stale_image_is_revalidated_with_etag_and_304(tmp_path, server, pics):
    url = server.route("/e.png", Reply(body=pics[PNG], etag='"v1"'))
    config = make_config(tmp_path, server=server, revalidate_after="1h")
    con = open_warehouse(config)
    add_article(con, "p.md", [url])
    fetch_images(con, config)
    first = fetch_row(con, url)
    assert first["etag"] == '"v1"'
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    con.execute("UPDATE image_fetches SET checked_at = ?, fetched_at = ?", [old, old])
    summary = fetch_images(con, config)
    assert (summary.revalidated, summary.fetched, summary.reused) == (1, 0, 0)
    target, headers = server.requests[-1]
    assert headers["if-none-match"] == '"v1"'
    row = fetch_row(con, url)
    assert row["status"] == "ok" and row["http_status"] == 304 and row["sha256"] == first["sha256"]
    assert row["checked_at"] > old and row["fetched_at"] == old  # asked again, not downloaded again
    assert len(store_files(config)) == 1


def test_revalidation_with_last_modified(tmp_path, server, pics):
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    url = server.route("/lm.jpg", Reply(body=pics[JPEG], last_modified=stamp))
    config = make_config(tmp_path, server=server, revalidate_after=0)
    con = open_warehouse(config)
    add_article(con, "p.md", [url])
    fetch_images(con, config)
    summary = fetch_images(con, config)
    assert summary.revalidated == 1
    assert server.requests[-1][1]["if-modified-since"] == stamp


def test_changed_image_on_revalidation_is_downloaded_again(tmp_path, server, pics):
    url = server.route("/c.png", Reply(body=pics[PNG], etag='"v1"'))
    config = make_config(tmp_path, server=server, revalidate_after=0)
    con = open_warehouse(config)
    add_article(con, "p.md", [url])
    fetch_images(con, config)
    server.route("/c.png", Reply(body=pics[JPEG], etag='"v2"'))
    summary = fetch_images(con, config)
    assert summary.fetched == 1
    row = fetch_row(con, url)
    assert row["etag"] == '"v2"' and row["sha256"] == hashlib.sha256(pics[JPEG]).hexdigest()
    assert con.execute("SELECT sha256 FROM article_images").fetchone()[0] == row["sha256"]
    assert con.execute("SELECT count(*) FROM images").fetchone()[0] == 2


def test_failed_revalidation_keeps_the_stored_image(tmp_path, server, pics):
    url = server.route("/k.png", Reply(body=pics[PNG], etag='"v1"'))
    config = make_config(tmp_path, server=server, revalidate_after=0, retries=0)
    con = open_warehouse(config)
    add_article(con, "p.md", [url])
    fetch_images(con, config)
    good = fetch_row(con, url)
    server.route("/k.png", Reply(500, b"down", content_type="text/plain"))
    summary = fetch_images(con, config)
    row = fetch_row(con, url)
    assert summary.failed == 1 and summary.reasons["http_500 (revalidation)"] == 1
    assert row["status"] == "ok" and row["sha256"] == good["sha256"]
    assert row["error"].startswith("revalidation failed: HTTP 500")
    assert con.execute("SELECT sha256 FROM article_images").fetchone()[0] == good["sha256"]


def test_missing_file_in_the_store_is_fetched_again(tmp_path, server, pics):
    url = server.route("/m.png", Reply(body=pics[PNG]))
    config = make_config(tmp_path, server=server)
    con = open_warehouse(config)
    add_article(con, "p.md", [url])
    fetch_images(con, config)
    for path in store_files(config):
        path.unlink()
    summary = fetch_images(con, config)
    assert summary.fetched == 1 and summary.new_files == 1 and server.hits["/m.png"] == 2
    assert len(store_files(config)) == 1
    # Gone from the store and from the server: no longer ok, and no article points at it.
    for path in store_files(config):
        path.unlink()
    server.route("/m.png", Reply(404))
    assert fetch_images(con, config).failed == 1
    row = fetch_row(con, url)
    assert (row["status"], row["reason"], row["sha256"]) == ("failed", "http_404", None)
    assert con.execute("SELECT sha256 FROM article_images").fetchone()[0] is None


def test_failed_urls_are_retried_on_later_runs_up_to_the_limit(tmp_path, server, pics):
    url = server.url("/later.png")  # 404 for now
    config = make_config(tmp_path, server=server, max_attempts=2, retries=0)
    con = open_warehouse(config)
    add_article(con, "p.md", [url])
    assert fetch_images(con, config).failed == 1
    assert fetch_row(con, url)["attempts"] == 1
    assert fetch_images(con, config).failed == 1
    assert fetch_row(con, url)["attempts"] == 2
    third = fetch_images(con, config)
    assert (third.failed, third.left_alone) == (0, 1)
    assert server.hits["/later.png"] == 2
    # Told otherwise: the URL is tried again, and now it works.
    server.route("/later.png", Reply(body=pics[PNG]))
    again = fetch_images(con, config, retry_failed=True)
    assert again.fetched == 1
    row = fetch_row(con, url)
    assert (row["status"], row["attempts"], row["error"]) == ("ok", 3, None)


def test_retry_failed_also_revisits_policy_skips(tmp_path, server, pics):
    url = server.route("/p.png", Reply(body=pics[PNG]))
    blocked = make_config(tmp_path, allow_hosts=[])
    con = open_warehouse(blocked)
    add_article(con, "p.md", [url])
    assert fetch_images(con, blocked).skipped == 1
    allowed = make_config(tmp_path, server=server)
    assert fetch_images(con, allowed).left_alone == 1  # not without being told
    assert fetch_images(con, allowed, retry_failed=True).fetched == 1
    assert fetch_row(con, url)["status"] == "ok"


def test_register_without_fetching_records_pending(tmp_path, server):
    config = make_config(tmp_path, server=server)
    con = open_warehouse(config)
    add_article(con, "p.md", [server.url("/x.png"), "mailto:someone@example.com"])
    assert register_images(con) == 2
    rows = dict(con.execute("SELECT url, status FROM image_fetches").fetchall())
    assert rows == {server.url("/x.png"): "pending", "mailto:someone@example.com": "skipped"}
    assert server.hits == {}
    assert register_images(con) == 0


def test_replaced_article_rows_are_linked_again(tmp_path, server, pics):
    url = server.route("/r.png", Reply(body=pics[PNG]))
    config = make_config(tmp_path, server=server)
    con = open_warehouse(config)
    article_id = add_article(con, "p.md", [url])
    fetch_images(con, config)
    # The loader replaces a changed article's child rows: new rows have no fetch_url and no sha256 yet.
    con.execute("DELETE FROM article_images WHERE article_id = ?", [article_id])
    con.execute("INSERT INTO article_images (article_id, position, role, url) VALUES (?, 0, 'body', ?)", [article_id, url])
    register_images(con)
    assert con.execute("SELECT sha256 FROM article_images").fetchone()[0] == hashlib.sha256(pics[PNG]).hexdigest()
    assert server.hits["/r.png"] == 1


def test_since_limits_to_recent_articles(tmp_path, server, pics):
    old_url = server.route("/old.png", Reply(body=pics[PNG]))
    new_url = server.route("/new.jpg", Reply(body=pics[JPEG]))
    config = make_config(tmp_path, server=server)
    con = open_warehouse(config)
    add_article(con, "old.md", [old_url])
    add_article(con, "new.md", [new_url])
    long_ago = datetime(2020, 1, 1, tzinfo=timezone.utc)
    con.execute("UPDATE articles SET updated_at = ?, first_seen_at = ? WHERE locator = 'old.md'", [long_ago, long_ago])
    summary = fetch_images(con, config, since=parse_since("7d"))
    assert summary.fetched == 1 and server.hits.get("/old.png") is None
    assert fetch_row(con, old_url)["status"] == "pending"


def test_parse_since():
    now = datetime(2024, 5, 10, 12, tzinfo=timezone.utc)
    assert parse_since("2d", now) == datetime(2024, 5, 8, 12, tzinfo=timezone.utc)
    assert parse_since("2024-05-01", now) == datetime(2024, 5, 1, tzinfo=timezone.utc)
    assert parse_since(None, now) is None
    import pytest

    from newsetl.errors import ConfigError

    with pytest.raises(ConfigError, match="--since"):
        parse_since("yesterday", now)


def test_many_images_respect_per_host_concurrency(tmp_path, server, pics):
    from PIL import Image
    import io

    urls = []
    for i in range(40):
        out = io.BytesIO()
        Image.new("RGB", (16, 16), (i, 2 * i, 3 * i)).save(out, "PNG")
        urls.append(server.route(f"/n{i}.png", Reply(body=out.getvalue(), delay=0.05)))
    config = make_config(tmp_path, server=server, per_host=4, concurrency=50)
    con = open_warehouse(config)
    add_article(con, "p.md", urls)
    import time

    started = time.monotonic()
    summary = fetch_images(con, config)
    elapsed = time.monotonic() - started
    assert summary.fetched == 40 and summary.new_files == 40
    assert elapsed >= 40 / 4 * 0.05 * 0.9  # at most 4 at a time on one host
