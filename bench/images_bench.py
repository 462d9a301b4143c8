"""Image download benchmark: newsetl's images step against a plain `asyncio.gather` on the same server.

A local server (its own process, 127.0.0.1 only) serves N distinct ~30 KB JPEGs, each answer delayed by
--latency ms. Each contender runs in a fresh process, so its peak memory is its own:

- plain:   one httpx.AsyncClient (default limits: 100 connections), asyncio.gather over every URL with
           at most 100 in flight, bytes read and dropped: the floor for "download N images".
           (--naive adds an unbounded gather, which httpcore's pool makes quadratic for thousands.)
- fetcher: newsetl's ImageFetcher: bounded concurrency, magic-number sniff, full Pillow decode, sha256,
           atomic write into the content-addressed store.
- step:    the whole images step as the ingest flow runs it: register the URLs of N article_images
           rows, plan, fetch (as above), bulk-load image_fetches/images and link article_images.
           (`--threads-too` adds the step verifying on threads, as before verifier processes.)

The plain gather runs first and again right after every contender (P C1 P C2 P ...), so each contender's
ratio is to the mean of the plain runs right before and after it, in the same bench run; the machine is
shared and its speed moves a lot within minutes. "CPU ms/image" is this process's CPU (all threads),
"+verifiers" the CPU of its verifier processes.

    python bench/images_bench.py --images 10000 --latency 20 --threads-too
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# -- the server --------------------------------------------------------------------------------------------

def base_jpeg(target_bytes: int = 30_000) -> bytes:
    """A real photo-like JPEG of about `target_bytes`."""
    import random

    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(7)
    im = Image.new("RGB", (360, 240), (90, 120, 160))
    draw = ImageDraw.Draw(im)
    for _ in range(400):
        x, y = rng.randrange(360), rng.randrange(240)
        r = rng.randrange(3, 30)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    im = im.filter(ImageFilter.GaussianBlur(0.6))
    best = b""
    for quality in range(30, 96, 3):
        out = io.BytesIO()
        im.save(out, "JPEG", quality=quality)
        if abs(out.tell() - target_bytes) < abs(len(best) - target_bytes):
            best = out.getvalue()
    return best


def variant(base: bytes, index: int) -> bytes:
    """`base` with a JPEG comment segment naming `index`: distinct bytes, same valid image."""
    comment = f"newsetl bench image {index}".encode()
    return base[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + base[2:]


def serve(n: int, latency: float, port_queue: mp.Queue) -> None:
    """An HTTP/1.1 keep-alive server: GET /img/<i>.jpg answers image i after `latency` seconds."""
    base = base_jpeg()
    bodies = [variant(base, i) for i in range(n)]
    heads = [
        f"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {len(b)}\r\n\r\n".encode() for b in bodies
    ]
    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    class Handler(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport
            self.buffer = b""

        def data_received(self, data):
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
                target = head.split(b" ", 2)[1]
                try:
                    i = int(target.rsplit(b"/", 1)[1].split(b".")[0])
                    reply = heads[i] + bodies[i]
                except (ValueError, IndexError):
                    reply = missing
                loop.call_later(latency, self._send, reply)

        def _send(self, reply):
            if not self.transport.is_closing():
                self.transport.write(reply)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(Handler, "127.0.0.1", 0, backlog=1024))
    port_queue.put((server.sockets[0].getsockname()[1], len(bodies[0])))
    loop.run_forever()


# -- the contenders ----------------------------------------------------------------------------------------

def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU of this process so far (all threads): robust to other load on the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """User + system CPU of this process's ended children (the fetcher's verifier processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_plain(urls: list[str], bound: int, out: mp.Queue) -> None:
    """gather over one client. `bound` > 0 caps requests in flight with a semaphore: httpcore's pool
    rescans its whole queue on every change, so an unbounded gather of thousands slows down
    quadratically (and hits PoolTimeout); the bounded gather is the fair, faster baseline."""
    import httpx

    async def go() -> int:
        slots = asyncio.Semaphore(bound) if bound else None
        async with httpx.AsyncClient(timeout=httpx.Timeout(60, pool=None)) as client:
            async def one(url: str) -> int:
                if slots is None:
                    response = await client.get(url)
                else:
                    async with slots:
                        response = await client.get(url)
                return len(response.content) if response.status_code == 200 else 0

            sizes = await asyncio.gather(*(one(u) for u in urls))
        return sum(1 for s in sizes if s)

    started, cpu = time.perf_counter(), cpu_seconds()
    ok = asyncio.run(go())
    out.put({"seconds": time.perf_counter() - started, "ok": ok, "peak_mb": peak_rss_mb(),
             "cpu": cpu_seconds() - cpu})


def _config(workdir: Path, concurrency: int, fsync: bool):
    from newsetl.config import config_from_dict

    return config_from_dict(
        {
            "warehouse": "bench.duckdb",
            "images": {
                "store": "images", "allow_hosts": ["127.0.0.1"], "concurrency": concurrency,
                "per_host": concurrency, "fsync": fsync,
            },
        },
        base_dir=workdir,
    )


def run_fetcher(urls: list[str], workdir: str, concurrency: int, fsync: bool, processes: int | None,
                out: mp.Queue) -> None:
    from newsetl.images.fetcher import FetchJob, ImageFetcher
    from newsetl.images.store import ImageStore

    config = _config(Path(workdir), concurrency, fsync)
    store = ImageStore(config.resolve(config.images.store), fsync=fsync)
    results = []

    async def go() -> None:
        async with ImageFetcher(config.images, store, processes=processes) as fetcher:
            await fetcher.run([FetchJob(url=u, source=u, host="127.0.0.1") for u in urls], results.append)

    started, cpu, children = time.perf_counter(), cpu_seconds(), children_cpu_seconds()
    asyncio.run(go())
    seconds = time.perf_counter() - started
    children = children_cpu_seconds() - children
    ok = sum(1 for r in results if r.status == "ok" and r.image is not None)
    failed = [r.error for r in results if r.status != "ok"][:3]
    out.put({"seconds": seconds, "ok": ok, "peak_mb": peak_rss_mb(), "errors": failed, "cpu": cpu_seconds() - cpu,
             "children_cpu": children})


def run_step(urls: list[str], workdir: str, concurrency: int, fsync: bool, processes: int | None,
             out: mp.Queue) -> None:
    from datetime import datetime, timezone

    import pyarrow as pa

    from newsetl.images.pipeline import fetch_images
    from newsetl.warehouse.db import connect_writer

    config = _config(Path(workdir), concurrency, fsync)
    con = connect_writer(config.resolve(config.warehouse))
    now = datetime.now(timezone.utc)
    per_article = 5
    articles = pa.table({
        "article_id": [f"a{i}" for i in range(0, len(urls), per_article)],
        "source": ["bench"] * len(range(0, len(urls), per_article)),
    })
    con.register("bench_articles", articles)
    con.execute(
        "INSERT INTO articles (article_id, source, source_type, locator, content_hash, first_seen_at, updated_at, "
        "run_id) SELECT article_id, source, 'hexo_dir', article_id, 'h', ?, ?, 'bench' FROM bench_articles",
        [now, now],
    )
    refs = pa.table({
        "article_id": [f"a{i - i % per_article}" for i in range(len(urls))],
        "position": [i % per_article for i in range(len(urls))],
        "url": urls,
    })
    con.register("bench_refs", refs)
    con.execute("INSERT INTO article_images (article_id, position, role, url) "
                "SELECT article_id, position, 'body', url FROM bench_refs")
    started, cpu, children = time.perf_counter(), cpu_seconds(), children_cpu_seconds()
    summary = fetch_images(con, config, run_id="bench", verify_processes=processes)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    children = children_cpu_seconds() - children
    rerun_started = time.perf_counter()
    again = fetch_images(con, config, run_id="bench-rerun", verify_processes=processes)
    rerun = time.perf_counter() - rerun_started
    stored = con.execute("SELECT count(*) FROM article_images WHERE sha256 IS NOT NULL").fetchone()[0]
    con.close()
    out.put({"seconds": seconds, "ok": summary.fetched, "peak_mb": peak_rss_mb(), "linked": stored, "cpu": cpu,
             "children_cpu": children,
             "rerun_seconds": rerun, "rerun_reused": again.reused, "reasons": summary.top_reasons(3)})


def in_child(target, *args) -> dict:
    queue: mp.Queue = mp.get_context("spawn").Queue()
    process = mp.get_context("spawn").Process(target=target, args=(*args, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=1)
            break
        except Exception:  # queue.Empty: still working, unless the child died
            if not process.is_alive():
                raise SystemExit(f"{target.__name__} died (exit code {process.exitcode}); see its traceback above")
    process.join(60)
    return result


# -- main --------------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=20.0, help="server latency per response, ms")
    parser.add_argument("--concurrency", type=int, default=100,
                        help="newsetl images.concurrency and per_host (the plain client's pool is 100)")
    parser.add_argument("--fsync", action="store_true", help="fsync each stored file (images.fsync: true)")
    parser.add_argument("--naive", action="store_true", help="also time an unbounded gather (slow for thousands)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds; each contender's best round is shown")
    parser.add_argument("--skip-step", action="store_true", help="skip the whole-step (warehouse) run")
    parser.add_argument("--skip-fetcher", action="store_true", help="skip the fetcher-alone run")
    parser.add_argument("--verify-processes", type=int, default=None,
                        help="fetcher and step: verifier processes (default: automatic; 0: threads, as before)")
    parser.add_argument("--threads-too", action="store_true",
                        help="also run the step verifying on threads (the code before verifier processes)")
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    ports: mp.Queue = ctx.Queue()
    server = ctx.Process(target=serve, args=(args.images, args.latency / 1000, ports), daemon=True)
    server.start()
    port, size = ports.get(timeout=120)
    urls = [f"http://127.0.0.1:{port}/img/{i}.jpg" for i in range(args.images)]
    fsync = args.fsync
    print(f"{args.images} distinct JPEGs of {size / 1000:.1f} KB, {args.latency:g} ms latency, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; newsetl concurrency {args.concurrency}, "
          f"fsync {'on' if fsync else 'off'}, verify processes {args.verify_processes if args.verify_processes is not None else 'auto'}; "
          f"{args.repeat} rounds, the plain gather right before and after each contender")
    plain_name = "plain gather, 100 in flight"
    contenders = []
    if args.naive:
        contenders.append(("plain gather, unbounded", run_plain, (urls, 0)))
    if not args.skip_fetcher:
        contenders.append(("newsetl fetcher (verify + store)", run_fetcher, args.verify_processes))
    if not args.skip_step:
        contenders.append(("newsetl images step (+ warehouse)", run_step, args.verify_processes))
    if args.threads_too:
        contenders.append(("images step, verify on threads", run_step, 0))
    rounds: list[dict] = []   # one per contender run: name, result, plain before, plain after
    plains: list[dict] = []

    def rate(r: dict) -> float:
        return r["ok"] / r["seconds"]

    def show(run: dict) -> None:
        r = run["result"]
        run["ratio"] = rate(r) / ((rate(run["before"]) + rate(run["after"])) / 2)
        print(f"{run['round']:>5} {run['name']:36} {r['ok']:>6} {r['seconds']:>8.2f} {rate(r):>9.0f} "
              f"{rate(run['before']):>9.0f}/{rate(run['after']):<9.0f} {run['ratio']:>8.0%} {r['peak_mb']:>8.0f} "
              f"{r['cpu'] * 1000 / max(1, r['ok']):>13.2f} {r.get('children_cpu', 0) * 1000 / max(1, r['ok']):>10.2f} "
              f"{run['load']:>5.1f}")
        if r.get("errors"):
            print(f"      first errors: {r['errors']}")
        if "rerun_seconds" in r:
            print(f"      rerun (nothing to fetch): {r['rerun_seconds']:.2f} s, {r['rerun_reused']} reused, "
                  f"{r['linked']} article_images linked; reasons: {r['reasons'] or 'none'}")
        sys.stdout.flush()

    print(f"{'round':>5} {'contender':36} {'ok':>6} {'seconds':>8} {'images/s':>9} {'plain before/after':>19} "
          f"{'vs plain':>8} {'peak MB':>8} {'CPU ms/image':>13} {'+verifiers':>10} {'load':>5}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="newsetl-images-bench-") as work:
            plains.append(in_child(run_plain, urls, 100))
            for round_ in range(args.repeat):  # P C1 P C2 P ... : every contender between two plain runs
                for index, (name, target, target_args) in enumerate(contenders):
                    if target is not run_plain:  # a fresh store and warehouse every round
                        folder = str(Path(work) / f"{index}-{round_}")
                        target_args = (urls, folder, args.concurrency, fsync, target_args)
                    result = in_child(target, *target_args)
                    plains.append(in_child(run_plain, urls, 100))
                    rounds.append({"name": name, "result": result, "before": plains[-2], "after": plains[-1],
                                   "round": round_ + 1, "load": os.getloadavg()[0]})
                    show(rounds[-1])
    finally:
        server.terminate()
        server.join(10)

    best_plain = max(plains, key=rate)
    print(f"{plain_name}: {len(plains)} runs, {min(map(rate, plains)):.0f}-{rate(best_plain):.0f} images/s, "
          f"CPU {best_plain['cpu'] * 1000 / max(1, best_plain['ok']):.2f} ms/image, peak {best_plain['peak_mb']:.0f} MB")
    for name, _, _ in contenders:
        ratios = [run["ratio"] for run in rounds if run["name"] == name]
        print(f"{name}: best of {len(ratios)} rounds {max(ratios):.0%} of the plain gather around it "
              f"(rounds: {', '.join(f'{x:.0%}' for x in ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
