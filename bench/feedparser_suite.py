"""feedparser's whole test suite through newsetl's real ingest flow, with the accounting issue 14 asks for.

    pip download --no-binary :all: --no-deps feedparser==6.0.14 -d /tmp/fp && tar xzf /tmp/fp/feedparser-6.0.14.tar.gz -C /tmp/fp
    .venv/bin/python bench/feedparser_suite.py /tmp/fp/feedparser-6.0.14/tests

Every file is served from 127.0.0.1 with the headers feedparser's harness declares (tests/feedparser_site.py),
becomes one `feed` source, and goes through `newsetl.flows.ingest.ingest` into a fresh DuckDB file. Beside it,
feedparser itself parses the same URL. Printed: feeds, feedparser entries, items loaded, items rejected by
reason, duplicates of a guid in the same feed, items lost without a reject (feedparser entries - loaded -
rejected - duplicates; must be 0) and feeds with recoverable entries that loaded nothing (must be 0).
Without an argument it runs the sample vendored in tests/fixtures/feedparser.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.feedparser_site: the same server the tests use

import duckdb  # noqa: E402
import feedparser  # noqa: E402
import lxml.html  # noqa: E402
from lxml import etree  # noqa: E402

from newsetl.config import config_from_dict  # noqa: E402
from newsetl.flows.ingest import ingest  # noqa: E402
from tests.feedparser_site import SuiteSite, suite_files  # noqa: E402

HTTP = {"allow_hosts": ["127.0.0.1"], "retries": 0, "backoff": 0.01, "concurrency": 16}


def readable(entry: feedparser.FeedParserDict) -> bool:
    """An entry with something to read: a title or visible text (lxml's reading of its HTML)."""
    html = " ".join([entry.get("summary") or ""] + [c.get("value") or "" for c in entry.get("content") or []])
    try:
        text = lxml.html.fragment_fromstring(html, create_parent="div").text_content() if html.strip() else ""
    except (etree.ParserError, ValueError):  # no HTML document in it (a lone "<!DOCTYPE"): nothing shown
        text = ""
    return bool((entry.get("title") or "").strip() or text.strip())


def reference(url: str) -> tuple[int, int]:
    """(entries, recoverable entries: with a title or visible text) as feedparser itself reads `url`."""
    parsed = feedparser.parse(url)
    return len(parsed.entries), sum(map(readable, parsed.entries))


def run(tests_dir: Path, keep: Path | None) -> dict:
    files = suite_files(tests_dir)
    site = SuiteSite.start(tests_dir.parent)
    try:
        names = {f"fp{n:04d}": path for n, path in enumerate(files, start=1)}
        urls = {name: site.url(path) for name, path in names.items()}
        started = time.perf_counter()
        refs = {name: reference(url) for name, url in urls.items()}
        ref_seconds = time.perf_counter() - started
        workdir = keep or Path(tempfile.mkdtemp(prefix="fp-suite-"))
        warehouse = workdir / "suite.duckdb"
        config = config_from_dict({"warehouse": str(warehouse), "images": {"enabled": False}, "http": HTTP,
                                   "sources": [{"type": "feed", "name": n, "urls": [u]} for n, u in urls.items()]},
                                  base_dir=workdir)
        started = time.perf_counter()
        summary = ingest(config)
        flow_seconds = time.perf_counter() - started
    finally:
        site.stop()
    con = duckdb.connect(str(warehouse), read_only=True)
    loaded = dict(con.execute("SELECT source, count(*) FROM articles GROUP BY source").fetchall())
    item_rejects = con.execute("SELECT r.source, r.stage || ': ' || r.error FROM rejects r "
                               "WHERE r.run_id = ? AND r.locator NOT IN (SELECT url FROM source_state)",
                               [summary["run_id"]]).fetchall()
    feed_rejects = con.execute("SELECT r.source, r.stage || ': ' || r.error FROM rejects r "
                               "WHERE r.run_id = ? AND r.locator IN (SELECT url FROM source_state)",
                               [summary["run_id"]]).fetchall()
    warnings = con.execute("SELECT source, kind, count FROM feed_warnings WHERE run_id = ?",
                           [summary["run_id"]]).fetchall()
    con.close()
    rejected = Counter(source for source, _ in item_rejects)
    duplicates = Counter({s: c for s, k, c in warnings if k == "duplicate guid"})
    lost = {n: refs[n][0] - loaded.get(n, 0) - rejected[n] - duplicates[n] for n in names}
    empty = [n for n in names if refs[n][1] > 0 and loaded.get(n, 0) == 0]
    return {
        "files": files, "names": names, "refs": refs, "loaded": loaded, "item_rejects": item_rejects,
        "feed_rejects": feed_rejects, "warnings": warnings, "duplicates": duplicates, "lost": lost,
        "empty": empty, "status": summary["status"], "flow_seconds": flow_seconds, "ref_seconds": ref_seconds,
    }


def report(r: dict) -> None:
    entries = sum(e for e, _ in r["refs"].values())
    print(f"feeds:                                        {len(r['files'])}")
    print(f"feedparser entries:                           {entries}")
    print(f"items loaded:                                 {sum(r['loaded'].values())}")
    print(f"items rejected:                               {len(r['item_rejects'])}")
    for reason, count in Counter(reason for _, reason in r["item_rejects"]).most_common():
        print(f"  {count:6d}  {reason}")
    print(f"items dropped as a repeated guid in the feed: {sum(r['duplicates'].values())}")
    lost = {n: v for n, v in r["lost"].items() if v}
    print(f"items lost without a reject:                  {sum(v for v in lost.values() if v > 0)}")
    for name, count in sorted(lost.items())[:20]:
        print(f"  {count:+4d}  {r['names'][name].relative_to(r['names'][name].parents[2])}")
    print(f"feeds with recoverable entries loading none:  {len(r['empty'])}")
    for name in r["empty"][:20]:
        print(f"        {r['names'][name].relative_to(r['names'][name].parents[2])}")
    print(f"feeds read with a recovered problem (warning): {sum(1 for _, k, _ in r['warnings'] if k == 'recovered')}")
    print(f"whole feeds rejected:                          {len(r['feed_rejects'])}")
    for reason, count in Counter(reason.split(' (')[0][:90] for _, reason in r["feed_rejects"]).most_common(12):
        print(f"  {count:6d}  {reason}")
    print(f"run status: {r['status']}; newsetl ingest flow {r['flow_seconds']:.1f} s, "
          f"feedparser alone {r['ref_seconds']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests_dir", nargs="?", type=Path, default=ROOT / "tests" / "fixtures" / "feedparser" / "tests",
                        help="a feedparser sdist's tests/ directory (default: the vendored sample)")
    parser.add_argument("--keep", type=Path, help="write the warehouse here instead of a temporary directory")
    args = parser.parse_args(argv)
    report(run(args.tests_dir.resolve(), args.keep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
