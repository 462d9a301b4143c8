"""Input from the wild (issue 11): one bad post is a reject, never a failed batch or run; work per post is
bounded; source roots are boundaries.

The step functions are exercised on the real posts with one thing broken each; the flow tests run the real
ingest flow (Prefect, DuckDB) over a copy of the real posts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import newsetl.posts.pipeline
from hostile_posts import alias_bomb, real_posts
from newsetl.config import HexoDirSource, LimitsConfig, config_from_dict
from newsetl.flows.ingest import ingest
from newsetl.models import Batch, InputRef
from newsetl.posts.clean import clean_posts
from newsetl.posts.discover import file_digest, list_sources
from newsetl.posts.limits import PostLimits, load_front_matter, parse_html
from newsetl.posts.pipeline import prepare_batch
from tests.helpers import rows

KR = "新媒体/36kr/资讯/10亿，又一笔PE投资落定.md"
KR_TITLE = "10亿，又一笔PE投资落定"
RULES = config_from_dict({}, base_dir=Path(".")).site_rules()
ZONES = {"s": ZoneInfo("Asia/Shanghai")}


def post(name: str = KR) -> bytes:
    return dict(real_posts())[name]


def with_date(value: str) -> bytes:
    return post().replace(b"date: Wed, 16 Jun 2021 06:30:29 GMT", f"date: {value}".encode())


def prepare(*items: bytes, limits: PostLimits | None = None) -> Batch:
    refs = [InputRef("s", "hexo_dir", f"p{i}.md", f"/nowhere/p{i}.md", file_digest(data), len(data), data=data)
            for i, data in enumerate(items)]
    return prepare_batch(Batch(refs), ["utf-8"], ZONES, RULES, *([limits] if limits else []))


def one_reject(batch: Batch) -> tuple[str, str]:
    assert batch.items == [] and len(batch.rejects) == 1, batch
    return batch.rejects[0].stage, batch.rejects[0].error


# -- one post, one reject ------------------------------------------------------------------------------------

@pytest.mark.parametrize("date, reason", [
    ("2021-02-30", "invalid value in front matter: ValueError: day is out of range for month"),
    ("0000-01-01", "invalid value in front matter: ValueError: year 0 is out of range"),
    ("2021-01-01 25:00:00", "invalid value in front matter: ValueError: hour must be in 0..23"),
    ("2021-13-01", "invalid value in front matter: ValueError: month must be in 1..12"),
    ("0001-01-01T00:00:00+14:00", "date out of range in UTC: 0001-01-01 00:00:00+14:00"),
    ("9999-12-31T23:59:59-14:00", "date out of range in UTC: 9999-12-31 23:59:59-14:00"),
    ("'0001-01-01 01:00:00'", "date out of range in UTC: 0001-01-01 01:00:00"),  # naive, read in UTC+8
])
def test_a_date_out_of_range_is_a_parse_reject_and_the_batch_goes_on(date, reason):
    batch = prepare(with_date(date), post())
    assert [(r.locator, r.stage, r.error) for r in batch.rejects] == [("p0.md", "parse", reason)]
    assert [k.locator for k in batch.items] == ["p1.md"]
    assert batch.tables.articles.column("title").to_pylist() == [KR_TITLE]


def test_control_characters_lxml_refuses_are_dropped_not_fatal():
    data = post().replace("高瓴又出手了。".encode(), "高瓴\x01又\x0b出&#1;手&#x1f;了。".encode())
    batch = prepare(data)
    assert batch.rejects == []
    assert "高瓴又出手了。" in batch.tables.articles.column("body_text")[0].as_py()


def test_utf16_and_utf8_byte_order_marks_are_decoded():
    text = post().decode("utf-8")
    batch = prepare(text.encode("utf-16"), b"\xef\xbb\xbf" + post(), text.encode("utf-32"))
    assert batch.rejects == []
    assert batch.tables.articles.column("title").to_pylist() == [KR_TITLE] * 3


def test_utf16_without_a_mark_and_lone_surrogate_bytes_are_read_rejects():
    batch = prepare(post().decode().encode("utf-16-le"), post().replace("高瓴".encode(), b"\xed\xa0\x80", 1))
    assert [(r.stage, r.error) for r in batch.rejects] == [
        ("read", "not a text file (contains NUL bytes)"), ("read", "undecodable bytes (tried utf-8)")]


def test_anything_a_post_raises_while_cleaning_is_its_own_reject(monkeypatch):
    def broken(post, *args):
        if post.locator == "p0.md":
            raise KeyError("something nobody expected")
        return real_clean(post, *args)

    real_clean = newsetl.posts.clean.clean_post
    monkeypatch.setattr(newsetl.posts.clean, "clean_post", broken)
    batch = prepare(post(), post())
    assert [(r.locator, r.stage, r.error) for r in batch.rejects] == [
        ("p0.md", "clean", "KeyError: 'something nobody expected'")]
    assert [k.locator for k in batch.items] == ["p1.md"]


# -- bounded work ------------------------------------------------------------------------------------------

def test_alias_bomb_is_rejected_without_expanding_it():
    started = time.perf_counter()
    batch = prepare(alias_bomb(None, post(), levels=12))  # 9**12 = 282 billion leaves once expanded
    assert time.perf_counter() - started < 2
    assert one_reject(batch) == ("parse", "front matter too big: more than 10,000 values once its aliases "
                                          "are expanded")


@pytest.mark.parametrize("yaml_text, reason", [
    ("c: &loop [a, *loop]", "front matter alias *loop refers to itself or to nothing"),
    ("c: " + "[" * 100_000 + "x" + "]" * 100_000, "front matter nested deeper than 64 levels"),
    ("t: " + "x" * 300_000, "front matter too long: 300,003 characters (limit 262,144)"),
])
def test_hostile_front_matter_is_refused_before_it_is_built(yaml_text, reason):
    # 100,000 nested lists crash libyaml's recursive composer (a segfault, not an exception)
    with pytest.raises(Exception) as caught:
        load_front_matter(yaml_text)
    assert (caught.value.stage, caught.value.reason) == ("parse", reason)


def test_the_workers_limits_are_the_configs():
    assert PostLimits.of(LimitsConfig()) == PostLimits()  # the same defaults on both sides
    section = config_from_dict({"limits": {"max_yaml_depth": 8, "post_seconds": 2}}, base_dir=Path(".")).limits
    assert PostLimits.of(section) == PostLimits(max_yaml_depth=8, post_seconds=2.0)


def test_ordinary_aliases_and_merge_keys_still_load():
    assert load_front_matter("base: &b {a: 1}\nc:\n  <<: *b\n  d: 2\ntags: [&t x, *t]") == {
        "base": {"a": 1}, "c": {"a": 1, "d": 2}, "tags": ["x", "x"]}


@pytest.mark.parametrize("depth", [255, 300, 3000, 100_000])
def test_deeply_nested_text_is_kept(depth):
    html = "<p>之前</p>" + "<div>" * depth + "深处的文字" + "</div>" * depth + "<p>之后</p>"
    assert parse_html(html).text_content() == "之前深处的文字之后"
    data = post() + html.encode()
    text = prepare(data).tables.articles.column("body_text")[0].as_py()
    assert text.endswith("之前\n深处的文字\n之后") or text.endswith("之前\n深处的文字之后"), text[-40:]


def test_a_text_node_over_10_mb_is_kept_whole():
    line = "长" * 4_000_000  # 12 MB of UTF-8 in one text node: libxml2 drops it without huge_tree
    limits = PostLimits(max_post_bytes=64 * 1024 * 1024)
    text = prepare(post() + f"<p>{line}</p>".encode(), limits=limits).tables.articles.column("body_text")[0]
    assert text.as_py().endswith(line)


def test_too_many_elements_and_over_time_budget_are_rejects():
    limits = PostLimits(max_html_elements=10)
    assert one_reject(prepare(post(), limits=limits))[1].startswith("too many HTML elements: ")
    slow = prepare(post(), limits=PostLimits(post_seconds=1e-9))
    stage, error = one_reject(slow)
    assert stage == "read" and error.startswith("over the time budget: read took 0.0 s (limit 1e-09 s)")
    assert slow.rejects[0].file_hash == file_digest(post())  # remembered: an unchanged file is not redone


# -- source roots ------------------------------------------------------------------------------------------

def test_symlinks_outside_the_root_loops_broken_links_and_fifos_are_rejects(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    (root / "a" / "ok.md").write_bytes(post())
    (outside / "secret.md").write_bytes(post())
    (root / "a" / "out.md").symlink_to(outside / "secret.md")
    (root / "a" / "in.md").symlink_to(root / "a" / "ok.md")
    (root / "l1.md").symlink_to(root / "l2.md")
    (root / "l2.md").symlink_to(root / "l1.md")
    (root / "gone.md").symlink_to(root / "nothing.md")
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    (root / "loopdir").symlink_to(root, target_is_directory=True)
    os.mkfifo(root / "pipe.md")

    def listed(follow: bool) -> tuple[list, list]:
        source = HexoDirSource(name="s", path=root, follow_symlinks=follow, globs=["**/*.md", "outdir/*.md"])
        listing = list_sources([(source, root)])
        return ([(f.locator, f.path) for f in listing.files], [(r.locator, r.stage, r.error) for r in listing.rejects])

    files, rejects = listed(follow=False)
    assert files == [("a/in.md", root / "a" / "ok.md"), ("a/ok.md", root / "a" / "ok.md")]
    out = (f"symlink leads outside the source root (to {{}}); set follow_symlinks: true on the source to read it")
    assert rejects == [
        ("a/out.md", "read", out.format(outside / "secret.md")),
        ("gone.md", "read", "broken symlink: its target does not exist"),
        ("l1.md", "read", "symlink loop (a link that leads back to itself)"),
        ("l2.md", "read", "symlink loop (a link that leads back to itself)"),
        ("outdir/secret.md", "read", out.format(outside / "secret.md")),
        ("pipe.md", "read", "not a regular file (a FIFO, socket or device)"),
    ]
    files, rejects = listed(follow=True)
    assert [f for f, _ in files] == ["a/in.md", "a/ok.md", "a/out.md", "outdir/secret.md"]
    assert [r[0] for r in rejects] == ["gone.md", "l1.md", "l2.md", "pipe.md"]


# -- through the real flow ---------------------------------------------------------------------------------

def config_for(tmp_path: Path, posts: Path, **extra):
    return config_from_dict({"warehouse": str(tmp_path / "wh.duckdb"), "images": {"enabled": False},
                             "reporting": {"enabled": False}, "batch_size": 4, "runner": {"kind": "threads"},
                             "sources": [{"name": "posts", "type": "hexo_dir", "path": str(posts),
                                          **extra.pop("source", {})}], **extra}, base_dir=tmp_path)


def accounted(summary: dict) -> bool:
    return summary["discovered"] == (summary["new"] + summary["updated"] + summary["unchanged"]
                                     + summary["rejected"] + summary.get("skipped", 0))


def test_one_bad_date_no_longer_fails_the_run_and_escapes_are_rejects(tmp_path, posts_dir):
    (posts_dir / KR).write_bytes(with_date("2021-02-30"))
    outside = tmp_path / "outside.md"
    outside.write_bytes(post())
    (posts_dir / "escape.md").symlink_to(outside)
    big = posts_dir / "big.md"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # a sparse 50 MB file: refused by its size, never read
    config = config_for(tmp_path, posts_dir)
    summary = ingest(config)
    assert (summary["status"], summary["discovered"], summary["new"], summary["rejected"]) == (
        "completed", 17, 14, 3)
    assert accounted(summary)
    warehouse = config.resolve(config.warehouse)
    assert rows(warehouse, "SELECT locator, stage, error FROM rejects ORDER BY locator") == [
        ("big.md", "read", "too large: 52,428,800 bytes (limit 8,388,608)"),
        ("escape.md", "read", f"symlink leads outside the source root (to {outside}); "
                              "set follow_symlinks: true on the source to read it"),
        (KR, "parse", "invalid value in front matter: ValueError: day is out of range for month"),
    ]
    # the bad date is remembered with its file hash; the size and the link are checked again next run
    again = ingest(config)
    assert (again["discovered"], again["new"], again["unchanged"], again["rejected"]) == (17, 0, 15, 2)
    assert accounted(again)

    followed = ingest(config_for(tmp_path / "f", posts_dir, source={"follow_symlinks": True}))
    assert (followed["new"], followed["rejected"]) == (15, 2)


def test_a_batch_task_that_fails_as_a_whole_loses_only_the_post_that_kills_it(tmp_path, posts_dir, monkeypatch):
    def dies_on_the_seed(batch, zones, *args):
        if any(raw.ref.locator == KR for raw in batch.items):
            raise MemoryError("worker ran out of memory")  # what no per-post handler can catch
        return real_parse(batch, zones, *args)

    real_parse = newsetl.posts.pipeline.parse_posts
    monkeypatch.setattr(newsetl.posts.pipeline, "parse_posts", dies_on_the_seed)
    config = config_for(tmp_path, posts_dir)
    summary = ingest(config)
    assert (summary["status"], summary["discovered"], summary["new"], summary["rejected"]) == (
        "completed", 15, 14, 1)
    assert accounted(summary)
    assert rows(config.resolve(config.warehouse), "SELECT locator, stage, error FROM rejects") == [
        (KR, "prepare", "its task failed alone: MemoryError: worker ran out of memory")]


def test_a_worker_process_that_dies_on_one_post_costs_only_that_post(tmp_path, posts_dir):
    from prefect import flow, task

    from newsetl.flows.batches import submitter
    from newsetl.flows.ingest import input_batches, load_batches
    from newsetl.flows.runners import ProcessTaskRunner
    from newsetl.posts.discover import ChangedFiles
    from newsetl.warehouse.articles import LoadCounts
    from newsetl.warehouse.db import writer
    from wild_worker_funcs import prepare_or_die

    (posts_dir / "killer.md").write_bytes(post())
    source = HexoDirSource(name="posts", path=posts_dir)
    prepare = task(prepare_or_die, name="read-parse-clean", retries=1, retry_delay_seconds=0)

    @flow(name="worker-death-test", task_runner=ProcessTaskRunner(2))
    def run() -> tuple[LoadCounts, list]:
        with writer(tmp_path / "wh.duckdb") as con:
            changed = ChangedFiles(list_sources([(source, posts_dir)]).files, {})
            submit = submitter(prepare, ["utf-8"], {"posts": ZoneInfo("UTC")}, RULES, PostLimits())
            total, rejects = LoadCounts(), []
            load_batches(con, (submit(b) for b in input_batches(changed, 4)), total, rejects, "run", 16)
            return total, rejects

    total, rejects = run()
    assert (total.new, total.rejected) == (15, 1)
    assert [(r.locator, r.stage) for r in rejects] == [("killer.md", "prepare")]
    assert rejects[0].error.startswith("its task failed alone: BrokenProcessPool") and rejects[0].file_hash is None
    assert rows(tmp_path / "wh.duckdb", "SELECT count(*) FROM articles") == [(15,)]


def test_a_yaml_set_is_read_in_document_order_not_the_hash_seeds():
    # `!!set` used to become a Python set: str(set) and the categories built from it changed with each worker's
    # hash seed, so the same file gave other rows (and another content hash) from one run to the next.
    listed = b"categories: \n - \xe6\x96\xb0\xe5\xaa\x92\xe4\xbd\x93\n - 36kr\n - \xe8\xb5\x84\xe8\xae\xaf\n"
    as_set = "categories: !!set\n  ? 资讯\n  ? 新媒体\n  ? 36kr\n  ? 财经\n".encode()
    assert listed in post()
    batch = prepare(post().replace(listed, as_set))
    assert batch.tables.articles.column("categories").to_pylist() == [["资讯", "新媒体", "36kr", "财经"]]
    titled = post().replace("title: '10亿，又一笔PE投资落定'".encode(), b"title: !!set {b, a}")
    assert one_reject(prepare(titled)) == ("parse", "front matter 'title' should be text, got a list")
