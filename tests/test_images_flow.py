"""Images through Prefect: the ingest flow's images step, the `images` flow and the `newsetl images` CLI."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

import yaml

from imageserver import Reply
from newsetl.cli import main

POST = """---
title: '图片测试'
headimg: '{head}'
date: 2024-05-01 09:30:00
---

<div>
<p>　　第一段，正文。</p>
<div class="img_wrapper"><img src="{one}" alt="一"><span class="img_descr">图一</span></div>
<p>　　第二段，正文。</p>
<div class="img_wrapper"><img src="{two}" alt="二"><span class="img_descr">图二</span></div>
<div class="img_wrapper"><img src="{gone}" alt="三"><span class="img_descr">图三</span></div>
<p>责任编辑：测试</p>
</div>
"""


def setup(tmp_path: Path, server, pics, **images) -> tuple[Path, dict]:
    posts = tmp_path / "posts"
    posts.mkdir()
    urls = {
        "head": server.route("/head.jpg", Reply(body=pics["skyline.jpg"], etag='"h1"')),
        "one": server.route("/one.png", Reply(body=pics["badge.png"])),
        "two": server.route("/two.gif", Reply(body=pics["spinner.gif"])),
        "gone": server.url("/gone.webp"),
    }
    (posts / "post.md").write_text(POST.format(**urls), encoding="utf-8")
    config = {
        "warehouse": "wh.duckdb",
        "sources": [{"type": "hexo_dir", "name": "t", "path": "posts"}],
        "images": {"store": "images", "allow_hosts": [f"127.0.0.1:{server.port}"], "retries": 0, **images},
    }
    path = tmp_path / "newsetl.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path, urls


def query(tmp_path: Path, sql: str) -> list[tuple]:
    from newsetl.warehouse.db import connect_reader

    con = connect_reader(tmp_path / "wh.duckdb")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def latest_artifact(key: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read():
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            return sorted(found, key=lambda a: a.created)[-1] if found else None

    return asyncio.run(read())


def test_ingest_flow_fetches_images_and_reports_them(tmp_path, server, pics, capsys):
    config_path, urls = setup(tmp_path, server, pics)
    assert main(["ingest", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "images: 3 fetched, 0 reused, 0 revalidated, 1 failed, 0 skipped (top reasons: http_404 1)" in out
    rows = dict(query(tmp_path, "SELECT url, status FROM image_fetches"))
    assert rows == {urls["head"]: "ok", urls["one"]: "ok", urls["two"]: "ok", urls["gone"]: "failed"}
    linked = query(tmp_path, "SELECT ai.role, i.format FROM article_images ai JOIN images i USING (sha256) "
                             "ORDER BY ai.position")
    assert sorted(linked) == [("body", "GIF"), ("body", "PNG"), ("headimg", "JPEG")]
    assert query(tmp_path, "SELECT kind, images_fetched, images_reused, images_failed FROM ingest_runs") == [
        ("ingest", 3, 0, 1)]
    artifact = latest_artifact("newsetl-images")
    assert artifact is not None and "| fetched | 3 |" in artifact.data and "| http_404 | 1 |" in artifact.data
    digest = hashlib.sha256(pics["skyline.jpg"]).hexdigest()
    assert (tmp_path / "images" / digest[:2] / digest[2:4] / f"{digest}.jpg").read_bytes() == pics["skyline.jpg"]

    # A rerun over unchanged posts makes no image request.
    hits = dict(server.hits)
    assert main(["ingest", "--config", str(config_path)]) == 0
    assert "images: 0 fetched, 3 reused, 0 revalidated, 1 failed" in capsys.readouterr().out
    assert server.hits["/head.jpg"] == hits["/head.jpg"] and server.hits["/gone.webp"] == hits["/gone.webp"] + 1


def test_no_images_records_pending_then_images_command_fetches(tmp_path, server, pics, capsys):
    config_path, urls = setup(tmp_path, server, pics)
    assert main(["ingest", "--no-images", "--config", str(config_path)]) == 0
    assert "images: off (4 new URLs recorded as pending" in capsys.readouterr().out
    assert server.hits == {}
    assert query(tmp_path, "SELECT DISTINCT status FROM image_fetches") == [("pending",)]
    assert query(tmp_path, "SELECT count(*) FROM article_images WHERE sha256 IS NULL") == [(4,)]

    assert main(["images", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "3 fetched, 0 reused, 0 revalidated, 1 failed, 0 skipped" in out
    assert re.search(r"^Prefect flow run: \S+/runs/flow-run/[0-9a-f-]{36}$", out, re.M)  # a real API: a link
    assert query(tmp_path, "SELECT count(*) FROM article_images WHERE sha256 IS NOT NULL") == [(3,)]
    assert query(tmp_path, "SELECT kind, status, images_fetched FROM ingest_runs ORDER BY started_at") == [
        ("ingest", "completed", 0), ("images", "completed", 3)]

    # The missing image appears; it is fetched on a later run without being told.
    server.route("/gone.webp", Reply(body=pics["slides.webp"]))
    assert main(["images", "--config", str(config_path)]) == 0
    assert "1 fetched, 3 reused" in capsys.readouterr().out
    health = query(tmp_path, "SELECT host, urls, ok, failed, success_rate FROM image_health")
    assert health == [("127.0.0.1", 4, 4, 0, 1.0)]


def test_images_command_options_and_errors(tmp_path, server, pics, capsys):
    config_path, _ = setup(tmp_path, server, pics, max_attempts=1)
    assert main(["ingest", "--config", str(config_path)]) == 0
    capsys.readouterr()
    assert main(["images", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "0 fetched, 3 reused" in out and "1 URLs left alone" in out and "--retry-failed" in out
    assert main(["images", "--retry-failed", "--since", "1d", "--config", str(config_path)]) == 0
    assert "1 failed" in capsys.readouterr().out
    assert main(["images", "--since", "last tuesday", "--config", str(config_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsetl: error: argument --since: not a moment: 'last tuesday'") and err.count("\n") == 1


def test_config_error_in_images_section_is_one_line(tmp_path, capsys):
    path = tmp_path / "newsetl.yaml"
    path.write_text("images:\n  per_host: many\n", encoding="utf-8")
    assert main(["images", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "images.per_host" in err


def test_demo_post_images_resolve_against_the_bundled_files():
    """The demo post cites files that exist in examples/images (served on 127.0.0.1:8765 by the demo)."""
    import re

    root = Path(__file__).resolve().parent.parent / "examples" / "images"
    text = (root / "posts" / "newsetl-images-demo.md").read_text(encoding="utf-8")
    names = set(re.findall(r"http://127\.0\.0\.1:8765/([\w.-]+)", text))
    assert names >= {"skyline.jpg", "badge.png", "spinner.gif", "slides.webp", "skyline-small.webp", "missing.png"}
    assert {n for n in names if (root / n).is_file()} == names - {"missing.png"}
