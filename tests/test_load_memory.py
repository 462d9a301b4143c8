"""Memory of the load loop: a loaded batch's rows are freed at once, not when the cyclic GC next runs.

A finished Prefect future and the concurrent.futures.Future it wraps form a reference cycle that holds the
future's result (flows/batches.py `let_go`). With the garbage collector off, nothing but the loader's own
release can free a loaded batch's Arrow rows: this test sees them freed while the run is still going.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsetl.config import HexoDirSource, config_from_dict
from newsetl.posts.limits import PostLimits
from tests.helpers import rows

RULES = config_from_dict({}, base_dir=Path(".")).site_rules()


@pytest.fixture
def no_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_each_loaded_batch_is_freed_before_the_next_is_loaded(tmp_path, posts_dir, no_gc):
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    from newsetl.flows.batches import submitter
    from newsetl.flows.ingest import input_batches, load_batches
    from newsetl.posts.discover import ChangedFiles, list_sources
    from newsetl.tasks.posts import prepare_task
    from newsetl.warehouse.articles import LoadCounts
    from newsetl.warehouse.db import writer

    source = HexoDirSource(name="posts", path=posts_dir)
    seen: list[weakref.ref] = []  # each prepared batch's articles table, as the loader is handed it
    alive_at_next: list[int] = []  # how many earlier tables were still alive when each batch came

    def watch(batch) -> None:
        alive_at_next.append(sum(ref() is not None for ref in seen))
        seen.append(weakref.ref(batch.tables.articles))

    @flow(name="load-memory-test", task_runner=ThreadPoolTaskRunner(max_workers=2))
    def run() -> LoadCounts:
        with writer(tmp_path / "wh.duckdb") as con:
            changed = ChangedFiles(list_sources([(source, posts_dir)]).files, {})
            submit = submitter(prepare_task, ["utf-8"], {"posts": ZoneInfo("UTC")}, RULES, PostLimits())
            total, rejects = LoadCounts(), []
            load_batches(con, (submit(b) for b in input_batches(changed, 4)), total, rejects, "run", 15,
                         on_batch=watch)
            assert rejects == []
            return total

    total = run()
    assert total.new == 15
    assert len(seen) == 4  # 15 posts in batches of 4
    assert alive_at_next == [0, 0, 0, 0]  # without the release: [0, 1, 2, 3], held by the futures' cycles
    assert [ref() for ref in seen] == [None] * 4
    assert rows(tmp_path / "wh.duckdb", "SELECT count(*), count(DISTINCT article_id) FROM articles") == [(15, 15)]


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def test_release_memory_gives_back_what_duckdb_freed_and_keeps_the_limit(tmp_path):
    from newsetl.warehouse.db import limit_memory, release_memory, writer

    with writer(tmp_path / "wh.duckdb") as con:
        limit_memory(con, "512MB")
        before = _rss_mb()
        con.execute("CREATE TABLE t AS SELECT range::VARCHAR || repeat('x', 200) AS s FROM range(600000)")
        assert con.execute("SELECT count(DISTINCT s) FROM t").fetchone() == (600000,)
        con.execute("CHECKPOINT")
        grown = _rss_mb() - before
        release_memory(con, "512MB")
        kept = _rss_mb() - before
        assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("488.2 MiB",)
        release_memory(con, None)  # DuckDB's own default limit: left alone
        assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("488.2 MiB",)
    assert grown > 100, grown  # the query's hash table and the checkpoint, freed but kept by DuckDB's allocator
    assert kept < grown / 2, (grown, kept)


def test_listed_files_are_freed_before_the_images_and_analytics_steps(tmp_path, posts_dir, warehouse_path,
                                                                       monkeypatch):
    """Whatever keeps the discover task's result (the Listing; in `newsetl ingest` Prefect's task-run context held
    it until the flow ended: 100k listed files, ~115 MB, through the images and analytics steps), the ingest
    empties it as it reads it (ChangedFiles(consume=True)). Here the test itself keeps it, and counts the files
    still alive."""
    import newsetl.flows.ingest as ingest_module
    from newsetl.posts.discover import PostFile
    from tests.helpers import make_config

    kept = []  # the listing, as Prefect may keep it
    real_discover, real_step = ingest_module.discover_task, ingest_module.images_step

    def discover(*args, **kwargs):
        kept.append(real_discover(*args, **kwargs))
        return kept[-1]

    alive: list[tuple[int, int]] = []

    def counting_step(con, config, summary):
        gc.collect()
        alive.append((len(kept[0].files), sum(type(o) is PostFile for o in gc.get_objects())))
        return real_step(con, config, summary)

    monkeypatch.setattr(ingest_module, "discover_task", discover)
    monkeypatch.setattr(ingest_module, "images_step", counting_step)
    config = make_config(tmp_path, warehouse_path, [{"type": "hexo_dir", "name": "posts", "path": str(posts_dir)}],
                         batch_size=4)
    summary = ingest_module.ingest(config)
    assert (summary["discovered"], summary["new"], summary["rejected"]) == (15, 15, 0)
    assert alive == [(0, 0)]  # with a listing kept whole: [(15, 15)]
    assert rows(warehouse_path, "SELECT count(*) FROM articles") == [(15,)]


def test_changed_files_can_give_the_listing_away_as_it_reads(posts_dir):
    """`consume=True` (the ingest's): the listing lets go of each file as it is reached, and the files not yielded
    (unchanged, unreadable) stay in `changed.files` for the post_link dependents; what is yielded is the same."""
    from newsetl.posts.discover import ChangedFiles, list_sources

    source = HexoDirSource(name="posts", path=posts_dir)
    plain = ChangedFiles(list_sources([(source, posts_dir)]).files, {})
    refs = list(plain)
    assert len(refs) == 15
    known = {("posts", ref.locator): ref.file_hash for ref in refs[::2]}  # 8 of them ingested before
    listing = list(list_sources([(source, posts_dir)]).files)  # a list lets go of each file as it is reached
    seen_mid_read: list[int] = []
    changed = ChangedFiles(listing, known, consume=True)
    again = []
    for ref in changed:
        again.append(ref)
        seen_mid_read.append(sum(f is not None for f in listing))
    assert [(r.locator, r.file_hash, r.data) for r in again] == [(r.locator, r.file_hash, r.data) for r in refs[1::2]]
    assert seen_mid_read[-1] < 15 and seen_mid_read == sorted(seen_mid_read, reverse=True)
    assert listing == []  # given away
    assert sorted(f.locator for f in changed.files) == sorted(loc for _, loc in known)  # the unchanged ones
    compact = list_sources([(source, posts_dir)]).files  # the listing as the ingest gets it: emptied at the end
    again_compact = [(r.locator, r.file_hash) for r in ChangedFiles(compact, known, consume=True)]
    assert again_compact == [(r.locator, r.file_hash) for r in again] and len(compact) == 0
    assert (changed.changed, changed.unchanged) == (7, 8)


def test_a_listed_file_costs_a_few_hundred_bytes_until_it_is_read(tmp_path):
    """A first run holds its listing until each file is read (100k posts: the largest block of small Python
    objects in the flow process, which stays fragmented after it is freed). The listing keeps each source's
    locators in one string and their stats in arrays (newsetl.posts.listed), and makes a PostFile per file only
    when it is used: 100k listed posts, 106 MB of objects (a PostFile with its os.stat_result) -> 41 MB (a
    PostFile with a compact stat, no path string) -> a few buffers."""
    import tracemalloc

    from newsetl.posts.discover import ChangedFiles, FileStat, list_sources
    from newsetl.posts.listed import Found

    root = tmp_path / "posts"
    for folder in range(20):
        (root / f"分类 {folder}" / "子目录").mkdir(parents=True)
        for n in range(100):
            (root / f"分类 {folder}" / "子目录" / f"文章-{n:04d}.md").write_text(f"---\ntitle: {n}\n---\n正文", "utf-8")
    source = HexoDirSource(name="posts", path=root)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        files = list_sources([(source, root)]).files
        per_file = (tracemalloc.get_traced_memory()[0] - before) / len(files)
    finally:
        tracemalloc.stop()
    assert len(files) == 2000
    assert per_file < 150, f"{per_file:.0f} bytes per listed file"  # 76; a PostFile each: 396; edf42fe: 1,103
    first = files[0]
    assert first.real is None and first.where == str(root / first.locator)  # joined when it is read
    st = (root / first.locator).stat()
    assert first.stat == Found(st.st_size, st.st_mtime_ns, st.st_ino)
    assert [f.locator for f in files[:2]] == ["分类 0/子目录/文章-0000.md", "分类 0/子目录/文章-0001.md"]
    # the kept stat is what the unchanged-file check compares with the recorded one
    refs = list(ChangedFiles(files[:3], {}))
    stats = {("posts", r.locator): FileStat(first.stat.size, first.stat.mtime_ns, first.stat.inode, "")
             for r in refs[:1]}
    known = {("posts", r.locator): r.file_hash for r in refs}
    rerun = ChangedFiles(list_sources([(source, root)]).files[:3], known, stats=stats)
    assert list(rerun) == [] and (rerun.unread, rerun.unchanged) == (1, 3)


def test_the_ingest_takes_each_files_stat_when_it_loads_it(tmp_path, posts_dir, warehouse_path, monkeypatch):
    """The stat to record with each file's hash is kept from the read to the load only (a first run over 100k
    posts held one per file through the whole load, ~40-50 MB of small objects), and every loaded file still gets
    its stat in `source_files`."""
    import os
    import time

    import newsetl.flows.ingest as ingest_module
    from newsetl.posts.discover import ChangedFiles
    from tests.helpers import make_config

    old = time.time() - 60  # older than the racy window: each stat is trusted and recorded
    for path in posts_dir.rglob("*.md"):
        os.utime(path, (old, old))
    made: list[ChangedFiles] = []

    class Recorded(ChangedFiles):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(ingest_module, "ChangedFiles", Recorded)
    config = make_config(tmp_path, warehouse_path, [{"type": "hexo_dir", "name": "posts", "path": str(posts_dir)}],
                         batch_size=4)
    summary = ingest_module.ingest(config)
    assert (summary["discovered"], summary["new"]) == (15, 15)
    assert made[0].changed == 15 and made[0]._seen == {}  # all taken by the loads
    assert rows(warehouse_path, "SELECT count(*) FROM source_files WHERE mtime_ns IS NOT NULL AND size IS NOT NULL "
                                "AND inode IS NOT NULL") == [(15,)]
    again = ingest_module.ingest(config)
    assert (again["unchanged"], made[1].unread) == (15, 15)  # nothing read again
