"""Verification in verifier processes (newsetl/images/verify_pool.py) decides exactly as on threads, and the
reduced (1/8 scale) JPEG decode rejects exactly what a full decode rejects."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import signal

import pytest
from PIL import Image, ImageFile

from imageserver import Reply
from images_helpers import add_article, allow_ports, make_config, open_warehouse, store_files
from newsetl.images import verify_pool
from newsetl.images.fetcher import FetchJob, ImageFetcher
from newsetl.images.keep import KeepRules, Rejected, StoredImage, keep
from newsetl.images.pipeline import fetch_images
from newsetl.images.store import ImageStore
from newsetl.images.verify import NotAnImage, inspect
from newsetl.images.verify_pool import VerifierGone, VerifyPool

PNG, JPEG, GIF, WEBP = "badge.png", "skyline.jpg", "spinner.gif", "slides.webp"


def bodies(pics: dict[str, bytes]) -> dict[str, bytes]:
    """Good images of every format, a duplicate, and every kind of bad body the verifier must name."""
    return {
        "good.png": pics[PNG], "good.jpg": pics[JPEG], "good.gif": pics[GIF], "good.webp": pics[WEBP],
        "again.jpg": pics[JPEG],                                    # same bytes, second URL: stored once
        "half.png": pics[PNG][: len(pics[PNG]) // 2],               # truncated, honest length
        "cut.jpg": pics[JPEG][: len(pics[JPEG]) - 3],
        "cut.gif": pics[GIF][:-3],
        "cut.webp": pics[WEBP][:-3],
        "page.png": b"<!DOCTYPE html><html><body>gone</body></html>",
        "empty.jpg": b"",
        "svg.png": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        "noise.jpg": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4,  # a JPEG signature, then garbage
    }


def run_step(tmp_path, server, pics, processes: int):
    urls = [server.route(f"/p{processes}/{name}", Reply(body=body, content_type="image/jpeg"))
            for name, body in bodies(pics).items()]
    config = make_config(tmp_path / f"p{processes}", allow_hosts=allow_ports(server.port), retries=0,
                         min_width=10, min_height=10, thumbnails={"small": [32, 32]})
    con = open_warehouse(config)
    add_article(con, "post.md", urls)
    summary = fetch_images(con, config, run_id="run-1", verify_processes=processes)
    rows = con.execute(
        "SELECT regexp_extract(f.url, '[^/]+$'), f.status, f.reason, f.error, f.sha256, i.format, i.width, "
        "i.height, i.mode, i.frames, i.bytes, i.path FROM image_fetches f LEFT JOIN images i USING (sha256) "
        "ORDER BY 1"
    ).fetchall()
    thumbs = con.execute("SELECT sha256, name, width, height, path FROM image_thumbnails ORDER BY ALL").fetchall()
    con.close()
    files = sorted(p.relative_to(config.resolve(config.images.store)).as_posix() for p in store_files(config))
    return summary, rows, thumbs, files


def test_verifier_processes_decide_and_store_exactly_as_threads(tmp_path, server, pics, monkeypatch):
    threads = run_step(tmp_path, server, pics, processes=0)
    start, keep_in_pool, kept = VerifyPool.start, VerifyPool.keep, []

    async def start_and_wait(pool: VerifyPool) -> None:  # no body goes to a thread while the verifier starts
        await start(pool)
        for _ in range(1500):  # up to 30 s on a loaded machine
            if pool.ready:
                return
            await asyncio.sleep(0.02)

    async def counted(pool: VerifyPool, data: bytes, key: int) -> StoredImage:
        kept.append(len(data))
        return await keep_in_pool(pool, data, key)

    monkeypatch.setattr(VerifyPool, "start", start_and_wait)
    monkeypatch.setattr(VerifyPool, "keep", counted)
    processes = run_step(tmp_path, server, pics, processes=1)
    assert len(kept) == len(bodies(pics))  # every body went through the verifier process
    assert processes[1:] == threads[1:]
    summary, rows, thumbs, files = processes
    by_name = {row[0]: row[1:4] for row in rows}
    assert by_name["good.jpg"][:2] == by_name["again.jpg"][:2] == ("ok", None)
    assert {name: by_name[name][:2] for name in ("half.png", "cut.jpg", "cut.gif", "cut.webp")} == {
        "half.png": ("failed", "truncated"), "cut.jpg": ("failed", "truncated"),
        "cut.gif": ("failed", "truncated"), "cut.webp": ("failed", "truncated")}
    assert by_name["page.png"] == ("failed", "not_image", "HTML page, not an image")
    assert by_name["empty.jpg"] == ("failed", "empty", "empty body")
    assert by_name["svg.png"] == ("failed", "unsupported", "SVG is not supported")
    assert by_name["noise.jpg"][:2] == ("failed", "undecodable")
    assert (summary.fetched, summary.failed, summary.new_files) == (5, 8, 4)  # again.jpg: no second file
    assert len(files) == 4 + 4 and len(thumbs) == 4  # 4 images, each with its thumbnail
    sha = hashlib.sha256(pics[JPEG]).hexdigest()
    assert f"{sha[:2]}/{sha[2:4]}/{sha}.jpg" in files


def test_pool_answers_like_keep_and_a_dead_verifier_fails_only_what_it_held(tmp_path, pics):
    async def go() -> None:
        rules = KeepRules()
        pool = VerifyPool(rules, tmp_path / "store", fsync=False, processes=1)
        await pool.start()
        try:
            early = pool.route(pics[GIF]) if not pool.ready else "ready at once"
            for _ in range(1500):  # up to 30 s on a loaded machine
                if pool.ready:
                    break
                await asyncio.sleep(0.02)
            assert pool.ready
            assert early is None and pool.route(pics[GIF]) is None  # routed to threads while starting: stays
            png, jpeg = pool.route(pics[PNG]), pool.route(pics[JPEG])
            assert png is not None and jpeg is not None
            stored = await pool.keep(pics[PNG], png)
            assert isinstance(stored, StoredImage) and stored.new_file
            assert stored == keep(pics[PNG], rules, ImageStore(tmp_path / "other"))
            assert not (await pool.keep(pics[PNG], png)).new_file  # same bytes, same verifier: stored once
            page = b"<html><body>no</body></html>"
            with pytest.raises(Rejected) as rejected:
                await pool.keep(page, pool.route(page))
            assert (rejected.value.status, rejected.value.reason) == ("failed", "not_image")
            os.kill(pool._verifiers[0]._process.pid, signal.SIGKILL)
            with pytest.raises(VerifierGone) as gone:
                await pool.keep(pics[JPEG], jpeg)
            assert gone.value.started and "image verifier process" in str(gone.value)
            assert not pool.alive
        finally:
            await pool.close()

    asyncio.run(go())


def test_a_verifier_that_cannot_start_leaves_the_work_to_threads(tmp_path, server, pics, monkeypatch):
    monkeypatch.setattr(verify_pool, "_CHILD", "import sys; sys.exit(3)")
    url = server.route("/ok.png", Reply(body=pics[PNG]))
    config = make_config(tmp_path, server=server)
    store = ImageStore(tmp_path / "store", fsync=False)
    results = []

    async def go() -> None:
        async with ImageFetcher(config.images, store, processes=1) as fetcher:
            await fetcher.run([FetchJob(url=url, source=url, host="127.0.0.1")], results.append)

    asyncio.run(go())
    assert [(r.status, r.reason, r.image.sha256 if r.image else None) for r in results] == [
        ("ok", None, hashlib.sha256(pics[PNG]).hexdigest())]


# -- the reduced JPEG decode -------------------------------------------------------------------------------

def full_decode_rejects(data: bytes) -> bool:
    """What a full-size decode of every byte says (the reference `inspect`'s 1/8 decode must agree with)."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
            im.load()
        return False
    except Exception:  # noqa: BLE001 - any failure is a rejection
        return True


def damaged(data: bytes) -> list[bytes]:
    """Cut-offs at many points, and runs of bytes overwritten across the headers and the entropy-coded data."""
    out = [data[:n] for n in range(4, len(data), max(1, len(data) // 60))]
    for start in range(2, len(data) - 8, max(1, len(data) // 80)):
        for filler in (b"\x00" * 8, b"\xff" * 8, b"\xff\xd9" * 4):
            out.append(data[:start] + filler + data[start + 8:])
    return out


def jpegs(pics: dict[str, bytes]) -> list[bytes]:
    with Image.open(io.BytesIO(pics[JPEG])) as im:
        photo = im.convert("RGB")
    made = []
    for options in ({"progressive": True}, {"subsampling": 0, "quality": 90}, {"optimize": True}):
        out = io.BytesIO()
        photo.save(out, "JPEG", **options)
        made.append(out.getvalue())
    grey = io.BytesIO()
    photo.convert("L").save(grey, "JPEG")
    return [pics[JPEG], *made, grey.getvalue()]


def test_reduced_jpeg_decode_rejects_exactly_what_a_full_decode_rejects(pics):
    checked = rejected = 0
    for original in jpegs(pics):
        for data in damaged(original):
            try:
                inspect(data)
                ours = False
            except NotAnImage:
                ours = True
            assert ours == full_decode_rejects(data), (len(original), len(data))
            checked += 1
            rejected += ours
    assert checked > 1000 and rejected > 300  # the cases include many rejections, not only harmless damage


def test_the_ingest_flow_verifies_a_run_of_many_images_in_a_verifier_process(tmp_path, server, pics, capsys,
                                                                             monkeypatch):
    from test_images_flow import query, setup

    from newsetl.cli import main
    from newsetl.images import fetcher

    started = []
    original = VerifyPool.start

    async def spy(pool: VerifyPool) -> None:
        await original(pool)
        started.append([v._process.pid for v in pool._verifiers])

    monkeypatch.setattr(fetcher, "PROCESS_MIN_JOBS", 4)  # this post cites 4 images
    monkeypatch.setattr(VerifyPool, "start", spy)
    config_path, _ = setup(tmp_path, server, pics)
    assert main(["ingest", "--config", str(config_path)]) == 0
    assert "images: 3 fetched, 0 reused, 0 revalidated, 1 failed, 0 skipped" in capsys.readouterr().out
    assert len(started) == 1 and len(started[0]) == verify_pool.default_processes()  # one per spare core
    assert query(tmp_path, "SELECT format, width, height FROM images ORDER BY format") == [
        ("GIF", 120, 120), ("JPEG", 480, 270), ("PNG", 200, 200)]
    with pytest.raises(ProcessLookupError):  # the verifier ended with the step
        os.kill(started[0][0], 0)
