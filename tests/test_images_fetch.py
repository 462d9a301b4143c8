"""The images step against a real HTTP server on 127.0.0.1: every fault, asserted in rows and files."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import urlsplit

import pytest

from imageserver import Reply
from images_helpers import add_article, allow_ports, fetch_row, image_row, make_config, open_warehouse, store_files
from newsetl.images.pipeline import fetch_images

PNG, JPEG, GIF, WEBP = "badge.png", "skyline.jpg", "spinner.gif", "slides.webp"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def served_ports(urls: list) -> list[str]:
    """`allow_hosts` naming exactly the 127.0.0.1 ports these URLs are served on (none for data: URIs etc.)."""
    urls = [url[1] if isinstance(url, tuple) else url for url in urls]  # (role, url) items too
    parts = [urlsplit(url) for url in urls if isinstance(url, str)]
    return allow_ports(*sorted({p.port for p in parts if p.hostname == "127.0.0.1" and p.port is not None}))


def run(tmp_path, server_urls: list, article_url: str | None = None, **images):
    images.setdefault("allow_hosts", served_ports([*server_urls, article_url]))
    config = make_config(tmp_path, **images)
    con = open_warehouse(config)
    add_article(con, "post.md", server_urls, url=article_url)
    summary = fetch_images(con, config, run_id="run-1")
    return config, con, summary


def test_real_formats_are_verified_recorded_and_stored_by_hash(tmp_path, server, pics):
    urls = {name: server.route(f"/img/{name}", Reply(body=pics[name], content_type="image/x")) for name in
            (PNG, JPEG, GIF, WEBP)}
    config, con, summary = run(tmp_path, list(urls.values()))
    assert (summary.fetched, summary.failed, summary.new_files) == (4, 0, 4)
    expected = {
        PNG: ("PNG", "image/png", 200, 200, "RGBA", 1, "png"),
        JPEG: ("JPEG", "image/jpeg", 480, 270, "RGB", 1, "jpg"),
        GIF: ("GIF", "image/gif", 120, 120, "P", 6, "gif"),
        WEBP: ("WEBP", "image/webp", 160, 90, "RGBA", 4, "webp"),
    }
    for name, (fmt, mime, width, height, mode, frames, ext) in expected.items():
        digest = sha(pics[name])
        row = fetch_row(con, urls[name])
        assert row["status"] == "ok" and row["http_status"] == 200 and row["sha256"] == digest
        assert row["attempts"] == 1 and row["tries"] == 1 and row["error"] is None
        assert row["fetched_at"] is not None and row["checked_at"] is not None
        image = image_row(con, digest)
        assert (image["format"], image["mime_type"], image["width"], image["height"], image["mode"],
                image["frames"], image["bytes"]) == (fmt, mime, width, height, mode, frames, len(pics[name]))
        assert image["path"] == f"{digest[:2]}/{digest[2:4]}/{digest}.{ext}"  # relative to the store
        assert (tmp_path / "store" / image["path"]).read_bytes() == pics[name]
    linked = con.execute("SELECT count(*) FROM article_images WHERE sha256 IS NOT NULL").fetchone()[0]
    assert linked == 4
    joined = con.execute("SELECT count(*) FROM article_images JOIN images USING (sha256)").fetchone()[0]
    assert joined == 4
    # File names never come from the URL.
    assert all(p.stem == sha(p.read_bytes()) for p in store_files(config))


def test_404_fails_at_once_without_retry(tmp_path, server):
    url = server.url("/missing.png")
    _, con, summary = run(tmp_path, [url])
    row = fetch_row(con, url)
    assert (row["status"], row["http_status"], row["reason"], row["tries"]) == ("failed", 404, "http_404", 1)
    assert row["error"] == "HTTP 404 Not Found" and row["sha256"] is None
    assert server.hits["/missing.png"] == 1
    assert summary.failed == 1 and summary.reasons["http_404"] == 1
    assert con.execute("SELECT sha256 FROM article_images").fetchone()[0] is None


def test_500_then_200_is_retried(tmp_path, server, pics):
    url = server.route("/flaky.png", Reply(500, b"oops", content_type="text/plain"), Reply(body=pics[PNG]))
    config, con, summary = run(tmp_path, [url])
    row = fetch_row(con, url)
    assert (row["status"], row["http_status"], row["tries"]) == ("ok", 200, 2)
    assert server.hits["/flaky.png"] == 2 and summary.fetched == 1
    assert len(store_files(config)) == 1


def test_persistent_5xx_fails_after_the_configured_retries(tmp_path, server):
    url = server.route("/down.png", Reply(503, b"busy", content_type="text/plain"))
    _, con, _ = run(tmp_path, [url], retries=2)
    row = fetch_row(con, url)
    assert (row["status"], row["http_status"], row["reason"], row["tries"]) == ("failed", 503, "http_503", 3)
    assert "after 3 tries" in row["error"]
    assert server.hits["/down.png"] == 3


def test_429_honours_retry_after(tmp_path, server, pics):
    url = server.route("/limited.png", Reply(429, b"", headers={"Retry-After": "1"}), Reply(body=pics[PNG]))
    started = time.monotonic()
    _, con, _ = run(tmp_path, [url])
    assert time.monotonic() - started >= 1.0  # waited as told, not the 10 ms backoff
    row = fetch_row(con, url)
    assert (row["status"], row["tries"]) == ("ok", 2)


def test_429_with_a_longer_retry_after_than_allowed_gives_up(tmp_path, server):
    url = server.route("/limited.png", Reply(429, b"", headers={"Retry-After": "3600"}))
    _, con, _ = run(tmp_path, [url], retry_after_max=5)
    row = fetch_row(con, url)
    assert (row["status"], row["http_status"], row["reason"]) == ("failed", 429, "http_429")
    assert "Retry-After 3600s exceeds retry_after_max" in row["error"]
    assert server.hits["/limited.png"] == 1


def test_slow_response_times_out_and_is_retried(tmp_path, server, pics):
    url = server.route("/slow.png", Reply(body=pics[PNG], delay=2.0))
    _, con, _ = run(tmp_path, [url], read_timeout=0.3, retries=1)
    row = fetch_row(con, url)
    assert (row["status"], row["reason"], row["tries"]) == ("failed", "timeout", 2)
    assert "timeout" in row["error"]


def test_slow_drip_hits_the_total_timeout(tmp_path, server, pics):
    url = server.route("/drip.jpg", Reply(body=pics[JPEG], drip=0.2))  # each read arrives in time
    _, con, _ = run(tmp_path, [url], read_timeout=1, total_timeout=0.5, retries=0)
    row = fetch_row(con, url)
    assert (row["status"], row["reason"]) == ("failed", "timeout")
    assert "no complete response within 0.5s" in row["error"]


def test_truncated_body_is_rejected_and_leaves_no_file(tmp_path, server, pics):
    url = server.route("/cut.jpg", Reply(body=pics[JPEG], truncate_to=len(pics[JPEG]) // 2))
    config, con, _ = run(tmp_path, [url], retries=1)
    row = fetch_row(con, url)
    assert (row["status"], row["reason"], row["tries"]) == ("failed", "truncated", 2)
    assert store_files(config) == []


def test_truncated_image_with_honest_length_is_rejected_by_decoding(tmp_path, server, pics):
    url = server.route("/half.png", Reply(body=pics[PNG][: len(pics[PNG]) // 2]))
    config, con, _ = run(tmp_path, [url])
    row = fetch_row(con, url)
    assert (row["status"], row["reason"], row["http_status"]) == ("failed", "truncated", 200)
    assert row["tries"] == 1  # a bad file is not a transient fault
    assert store_files(config) == []


def test_html_error_page_with_200_is_not_an_image(tmp_path, server):
    page = b"<!DOCTYPE html><html><body><h1>Sorry, this image is unavailable</h1></body></html>"
    url = server.route("/fake.png", Reply(body=page, content_type="image/png"))
    config, con, _ = run(tmp_path, [url])
    row = fetch_row(con, url)
    assert (row["status"], row["reason"], row["error"]) == ("failed", "not_image", "HTML page, not an image")
    assert row["content_type"] == "image/png"
    assert store_files(config) == []


def test_wrong_content_type_does_not_matter(tmp_path, server, pics):
    url = server.route("/octet", Reply(body=pics[WEBP], content_type="text/plain"))
    _, con, _ = run(tmp_path, [url])
    row = fetch_row(con, url)
    assert (row["status"], row["content_type"]) == ("ok", "text/plain")
    assert image_row(con, row["sha256"])["format"] == "WEBP"


def test_oversized_body_is_refused_by_declared_length(tmp_path, server, pics):
    url = server.route("/big.jpg", Reply(body=pics[JPEG]))
    config, con, _ = run(tmp_path, [url], max_bytes=1000)
    row = fetch_row(con, url)
    assert (row["status"], row["reason"], row["tries"]) == ("failed", "too_large", 1)
    assert f"Content-Length {len(pics[JPEG])} exceeds max_bytes 1000" == row["error"]
    assert store_files(config) == []


def test_oversized_chunked_body_is_cut_off_while_streaming(tmp_path, server, pics):
    url = server.route("/big-chunked.jpg", Reply(body=pics[JPEG], chunked=True))
    config, con, _ = run(tmp_path, [url], max_bytes=5000)
    row = fetch_row(con, url)
    assert (row["status"], row["reason"], row["error"]) == ("failed", "too_large", "body exceeds max_bytes 5000")
    assert store_files(config) == []


def test_chunked_body_within_the_cap_is_fine(tmp_path, server, pics):
    url = server.route("/chunked.jpg", Reply(body=pics[JPEG], chunked=True))
    _, con, _ = run(tmp_path, [url])
    assert fetch_row(con, url)["status"] == "ok"


def test_redirect_chain_is_followed_and_recorded(tmp_path, server, pics):
    server.route("/a", Reply(301, headers={"Location": "/b"}))
    server.route("/b", Reply(302, headers={"Location": server.url("/c")}))
    server.route("/c", Reply(307, headers={"Location": "/final.gif"}))
    server.route("/final.gif", Reply(body=pics[GIF]))
    url = server.url("/a")
    _, con, _ = run(tmp_path, [url])
    row = fetch_row(con, url)
    assert (row["status"], row["redirects"], row["final_url"]) == ("ok", 3, server.url("/final.gif"))
    assert image_row(con, row["sha256"])["frames"] == 6


def test_redirect_loop_is_detected(tmp_path, server):
    server.route("/loop1", Reply(302, headers={"Location": "/loop2"}))
    server.route("/loop2", Reply(302, headers={"Location": "/loop1"}))
    url = server.url("/loop1")
    _, con, _ = run(tmp_path, [url])
    row = fetch_row(con, url)
    assert (row["status"], row["reason"], row["tries"]) == ("failed", "redirect_loop", 1)
    assert server.hits["/loop1"] == 1 and server.hits["/loop2"] == 1


def test_too_many_redirects(tmp_path, server):
    for i in range(10):
        server.route(f"/r{i}", Reply(302, headers={"Location": f"/r{i + 1}"}))
    url = server.url("/r0")
    _, con, _ = run(tmp_path, [url], max_redirects=3)
    row = fetch_row(con, url)
    assert (row["status"], row["reason"], row["error"]) == ("failed", "too_many_redirects", "more than 3 redirects")
    assert server.hits["/r3"] == 1 and "/r4" not in server.hits


def test_redirect_into_a_refused_address_is_not_followed(tmp_path, server):
    # 127.0.0.2 is loopback too, but only 127.0.0.1 is allow-listed: the guard refuses before connecting.
    server.route("/escape", Reply(302, headers={"Location": f"http://127.0.0.2:{server.port}/secret.png"}))
    url = server.url("/escape")
    config, con, summary = run(tmp_path, [url])
    row = fetch_row(con, url)
    assert (row["status"], row["reason"]) == ("skipped", "blocked")
    assert row["error"] == "refused address 127.0.0.2 (loopback) for host 127.0.0.2 (after 1 redirect)"
    assert summary.skipped == 1 and store_files(config) == []


def test_redirect_to_another_scheme_is_refused(tmp_path, server):
    server.route("/ftp", Reply(302, headers={"Location": "ftp://127.0.0.1/x.png"}))
    url = server.url("/ftp")
    _, con, _ = run(tmp_path, [url])
    row = fetch_row(con, url)
    assert (row["status"], row["reason"]) == ("skipped", "unsupported_scheme")


def test_loopback_is_refused_without_an_allow_list(tmp_path, server, pics):
    url = server.route("/x.png", Reply(body=pics[PNG]))
    _, con, _ = run(tmp_path, [url], allow_hosts=[])
    row = fetch_row(con, url)
    assert (row["status"], row["reason"]) == ("skipped", "blocked")
    assert row["error"] == "refused address 127.0.0.1 (loopback) for host 127.0.0.1"
    assert server.hits == {}  # never connected


def test_host_name_allow_list_entry(tmp_path, server, pics):
    server.route("/x.png", Reply(body=pics[PNG]))
    url = f"http://localhost:{server.port}/x.png"
    _, con, _ = run(tmp_path, [url], allow_hosts=["localhost"])
    assert fetch_row(con, url)["status"] == "ok"


def test_duplicate_bytes_under_two_urls_are_stored_once(tmp_path, server, pics):
    one = server.route("/one.jpg", Reply(body=pics[JPEG]))
    two = server.route("/two?id=7", Reply(body=pics[JPEG]))
    config, con, summary = run(tmp_path, [one, two])
    assert fetch_row(con, one)["sha256"] == fetch_row(con, two)["sha256"] == sha(pics[JPEG])
    assert con.execute("SELECT count(*) FROM images").fetchone()[0] == 1
    assert len(store_files(config)) == 1
    assert summary.fetched == 2 and summary.new_files == 1


def test_same_url_in_two_articles_is_fetched_once(tmp_path, server, pics):
    url = server.route("/shared.png", Reply(body=pics[PNG]))
    config = make_config(tmp_path, server=server)
    con = open_warehouse(config)
    add_article(con, "a.md", [("headimg", url), url])
    add_article(con, "b.md", [url])
    fetch_images(con, config)
    assert server.hits["/shared.png"] == 1
    assert con.execute("SELECT count(*) FROM article_images WHERE sha256 = ?", [sha(pics[PNG])]).fetchone()[0] == 3


def test_data_uri_is_decoded_and_stored(tmp_path, pics):
    import base64

    uri = "data:image/png;base64," + base64.b64encode(pics[PNG]).decode()
    config, con, summary = run(tmp_path, [uri])
    key = con.execute("SELECT fetch_url FROM article_images").fetchone()[0]
    assert key.startswith("data:image/png;sha256=")
    row = fetch_row(con, key)
    assert (row["status"], row["host"], row["sha256"]) == ("ok", "(data)", sha(pics[PNG]))
    assert summary.fetched == 1 and len(store_files(config)) == 1


def test_bad_data_uri_fails(tmp_path):
    _, con, _ = run(tmp_path, ["data:image/png;base64,!!!not base64!!!"])
    row = con.execute("SELECT status, reason FROM image_fetches").fetchone()
    assert row == ("failed", "bad_data_uri")


def test_protocol_relative_takes_the_article_scheme(tmp_path, server, pics):
    server.route("/rel.png", Reply(body=pics[PNG]))
    config = make_config(tmp_path, server=server, connect_timeout=0.5)  # the https one fails its TLS handshake
    con = open_warehouse(config)
    add_article(con, "http.md", [f"//127.0.0.1:{server.port}/rel.png"], url=server.url("/post.html"))
    add_article(con, "nourl.md", [f"//127.0.0.1:{server.port}/other.png"])
    fetch_images(con, config)
    keys = dict(con.execute("SELECT url, fetch_url FROM article_images").fetchall())
    assert keys[f"//127.0.0.1:{server.port}/rel.png"] == server.url("/rel.png")
    assert keys[f"//127.0.0.1:{server.port}/other.png"] == f"https://127.0.0.1:{server.port}/other.png"
    assert fetch_row(con, server.url("/rel.png"))["status"] == "ok"


def test_unsupported_scheme_and_relative_without_base_are_skipped(tmp_path):
    _, con, summary = run(tmp_path, ["ftp://example.com/a.png", "images/b.png", "file:///etc/passwd"])
    rows = dict(con.execute("SELECT url, reason FROM image_fetches WHERE status = 'skipped'").fetchall())
    assert rows == {
        "ftp://example.com/a.png": "unsupported_scheme",
        "images/b.png": "invalid_url",
        "file:///etc/passwd": "unsupported_scheme",
    }
    assert summary.fetched == 0 and summary.left_alone == 3


def test_min_size_filter_skips_small_images(tmp_path, server, pics):
    small = server.route("/small.png", Reply(body=pics[PNG]))
    big = server.route("/big.jpg", Reply(body=pics[JPEG]))
    config, con, _ = run(tmp_path, [small, big], min_width=300, min_height=100)
    row = fetch_row(con, small)
    assert (row["status"], row["reason"], row["error"]) == ("skipped", "too_small", "200x200 is below the minimum 300x100")
    assert fetch_row(con, big)["status"] == "ok"
    assert len(store_files(config)) == 1


def test_thumbnails_are_written_next_to_the_original_and_listed(tmp_path, server, pics):
    photo = server.route("/photo.jpg", Reply(body=pics[JPEG]))
    badge = server.route("/badge.png", Reply(body=pics[PNG]))
    config, con, _ = run(tmp_path, [photo, badge], thumbnails={"small": [64, 64], "wide": [240, 240]})
    rows = con.execute(
        "SELECT i.format, t.name, t.width, t.height, t.path, t.bytes FROM image_thumbnails t "
        "JOIN images i USING (sha256) ORDER BY i.format, t.name"
    ).fetchall()
    digest = sha(pics[JPEG])
    folder = f"{digest[:2]}/{digest[2:4]}"  # stored paths are relative to the store
    assert rows[0][:5] == ("JPEG", "small", 64, 36, f"{folder}/{digest}.small-64x64.jpg")  # 480x270 kept 16:9
    assert rows[1][:4] == ("JPEG", "wide", 240, 135)
    assert rows[2][:4] == ("PNG", "small", 64, 64) and rows[2][4].endswith(".small-64x64.png")  # alpha kept
    for *_, path, size in rows:
        assert (tmp_path / "store" / path).stat().st_size == size
    original = image_row(con, digest)["path"]
    assert (tmp_path / "store" / original).parent == (tmp_path / "store" / rows[0][4]).parent


def test_image_health_view(tmp_path, server, pics):
    ok = server.route("/ok.png", Reply(body=pics[PNG]))
    gone1, gone2 = server.url("/gone1.png"), server.url("/gone2.png")
    html = server.route("/html.png", Reply(body=b"<html>no</html>", content_type="text/html"))
    _, con, _ = run(tmp_path, [ok, gone1, gone2, html, "ftp://files.example/x.png"])
    health = {row[0]: row for row in con.execute(
        "SELECT host, urls, ok, failed, skipped, pending, success_rate, top_errors FROM image_health").fetchall()}
    local = health["127.0.0.1"]
    assert local[1:7] == (4, 1, 3, 0, 0, 0.25)
    assert local[7][0] == {"reason": "http_404", "error": "HTTP 404 Not Found", "count": 2}
    assert local[7][1]["reason"] == "not_image"
    assert health["files.example"][1:5] == (1, 0, 0, 1)


def test_crash_while_writing_leaves_no_image_under_a_real_name(tmp_path, pics, monkeypatch):
    import os

    from newsetl.images.store import ImageStore

    store = ImageStore(tmp_path / "store")
    relative = store.relative(sha(pics[PNG]), "png")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store.put(relative, pics[PNG])
    monkeypatch.undo()
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []
    assert store.put(relative, pics[PNG]) is True
    assert store.put(relative, pics[PNG]) is False  # second write of the same content is a no-op
    assert store.path(relative).read_bytes() == pics[PNG]


def test_sweep_removes_stale_temporaries_only(tmp_path):
    import os

    from newsetl.images.store import ImageStore

    store = ImageStore(tmp_path)
    folder = tmp_path / "ab" / "cd"
    folder.mkdir(parents=True)
    old = folder / ".abcd.png.123.tmp"
    new = folder / ".abce.png.456.tmp"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert store.sweep_temporaries() == 1
    assert not old.exists() and new.exists()
