"""The incremental search index scores exactly as DuckDB fts's `match_bm25` did: same scores (within 1e-9) and the
same order as a real fts index built on the same documents, on the reporting fixtures and on generated documents,
also after documents were added, changed and removed one by one."""

from __future__ import annotations

import random
import shutil
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from newsetl.reporting.segment import document_postings
from newsetl.warehouse import search
from newsetl.warehouse.db import connect_reader, connect_writer, transaction
from reporting_warehouse import reporting_warehouse  # noqa: F401

SCORES = ("SELECT article_id, fts_main_search_documents.match_bm25(article_id, ?{args}) AS score "
          "FROM search_documents WHERE score IS NOT NULL ORDER BY score DESC, article_id")
ARGS = ["", ", fields := 'title_terms'", ", fields := 'body_terms,title_terms'", ", conjunctive := 1",
        ", k := 2.0, b := 0.5"]


def _fts_scores(documents: list[tuple], queries: list[str]) -> dict[tuple[str, str], list[tuple[str, float]]]:
    """Scores of a real DuckDB fts index, built as newsetl built it, on these (article_id, title, body) rows."""
    con = duckdb.connect()
    path = resources.files("duckdb_extension_fts").joinpath(
        "extensions", f"v{duckdb.__version__}", "fts.duckdb_extension")
    con.execute(f"INSTALL '{path}'")
    con.execute("LOAD fts")
    rows = pa.table({name: [d[i] for d in documents] for i, name in enumerate(("article_id", "title_terms",
                                                                                 "body_terms"))},
                    schema=pa.schema([(n, pa.string()) for n in ("article_id", "title_terms", "body_terms")]))
    con.register("rows", rows)
    con.execute("CREATE TABLE search_documents AS SELECT * FROM rows")
    con.execute(r"PRAGMA create_fts_index('search_documents', 'article_id', 'title_terms', 'body_terms', "
                r"stemmer='none', stopwords='none', ignore='[^\s\S]', strip_accents=0, lower=0, overwrite=1)")
    try:
        return {(q, a): con.execute(SCORES.format(args=a), [q]).fetchall() for q in queries for a in ARGS}
    finally:
        con.close()


def _ours(con: duckdb.DuckDBPyConnection, queries: list[str]) -> dict[tuple[str, str], list[tuple[str, float]]]:
    return {(q, a): con.execute(SCORES.format(args=a), [q]).fetchall() for q in queries for a in ARGS}


def _ranking(rows: list[tuple[str, float]]) -> list[str]:
    """Article ids best first, ties (equal to 1e-9: DuckDB may sum a document's terms in any order) by id."""
    return [a for a, _ in sorted(rows, key=lambda row: (-round(row[1], 9), row[0]))]


def _assert_same(ours: dict, fts: dict) -> None:
    assert ours.keys() == fts.keys()
    matched = 0
    for key, expected in fts.items():
        got = ours[key]
        assert dict(got).keys() == dict(expected).keys(), key
        assert all(abs(score - dict(expected)[a]) <= 1e-9 for a, score in got), key
        assert _ranking(got) == _ranking(expected), key
        assert all(x[1] >= y[1] - 1e-9 for x, y in zip(got, got[1:])), key  # best first
        matched += len(expected)
    assert matched > 0


VOCABULARY = ["新能源", "能源", "汽车", "销量", "上升", "房地产", "投资", "下降", "hexo", "2.8", "a股", "粤海", "铁路"]


def _generated(rng: random.Random, count: int, prefix: str = "g") -> list[tuple[str, str | None, str | None]]:
    """Documents with repeated terms, tabs, line breaks, leading/trailing and double spaces, empty and NULL fields,
    and characters Python would split on but RE2's `\\s` (fts's tokenizer) does not (`\\v`, U+3000, U+00A0)."""
    separators = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\f"]
    joiners = ["\v", "\u3000", "\u00a0"]

    def text(words: int) -> str:
        parts = []
        for _ in range(words):
            word = rng.choice(VOCABULARY)
            if rng.random() < 0.05:
                word += rng.choice(joiners) + rng.choice(VOCABULARY)
            parts.append(word + rng.choice(separators))
        return rng.choice(["", " ", "\n"]) + "".join(parts)

    docs = []
    for i in range(count):
        title = None if i % 17 == 0 else ("" if i % 13 == 0 else text(rng.randrange(0, 6)))
        body = None if i % 19 == 0 else ("" if i % 11 == 0 else text(rng.randrange(0, 60)))
        docs.append((f"{prefix}{i:04d}", title, body))
    return docs


def _index(con: duckdb.DuckDBPyConnection, documents: list[tuple]) -> None:
    """Write these documents to `search_documents` and index them (the documents given replace earlier ones)."""
    ids = pa.array([d[0] for d in documents], type=pa.string())
    docs = pa.table({"article_id": ids, "content_hash": pa.array(["h"] * len(documents)),
                     "title_terms": [d[1] for d in documents], "body_terms": [d[2] for d in documents],
                     "keyword_terms": pa.array([0] * len(documents), type=pa.int32())})
    postings, lengths = document_postings([d[1] for d in documents], [d[2] for d in documents])
    with transaction(con):
        con.register("new_docs", docs)
        con.execute("DELETE FROM search_documents WHERE article_id IN (SELECT article_id FROM new_docs)")
        con.execute("INSERT INTO search_documents SELECT * FROM new_docs")
        con.unregister("new_docs")
        search.index_documents(con, ids, postings, lengths, search.TermIds(con))


QUERIES = ["能源 汽车", "房地产 投资 下降", "hexo", "a股 2.8", " 粤海  铁路 粤海", "汽车\u3000销量", "不存在", "销量"]


def test_generated_documents_score_as_fts_also_after_changes(tmp_path: Path):
    rng = random.Random(15)
    documents = _generated(rng, 300)
    con = connect_writer(tmp_path / "wh.duckdb")
    try:
        _index(con, documents[:200])  # in two chunks: the second one adds terms to the dictionary
        _index(con, documents[200:])
        _assert_same(_ours(con, QUERIES), _fts_scores(documents, QUERIES))
        # 40 documents change, 30 go, 25 arrive: only those are written; scores equal a fresh fts build.
        changed = [(a, b, c) for a, b, c in _generated(random.Random(16), 40)]
        gone = {d[0] for d in documents[100:130]}
        arrived = _generated(random.Random(17), 25, prefix="n")
        con.execute("DELETE FROM search_documents WHERE article_id IN (SELECT unnest(?))", [sorted(gone)])
        with transaction(con):
            assert search.drop_orphans(con) == 30
        _index(con, changed + arrived)
        current = {d[0]: d for d in documents if d[0] not in gone}
        current.update({d[0]: d for d in changed + arrived})
        assert con.execute("SELECT count(*), count(DISTINCT docid) FROM search_index_docs").fetchone() == (295, 295)
        _assert_same(_ours(con, QUERIES), _fts_scores(list(current.values()), QUERIES))
    finally:
        con.close()


def test_fixture_articles_score_as_fts(reporting_warehouse, tmp_path):  # noqa: F811
    """The real posts, segmented by the analytics step: our index against fts on the same search documents."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(reporting_warehouse["path"], copy)
    con = connect_reader(copy, sandbox=True)  # user SQL (`newsetl query`) runs on a sandboxed reader like this
    try:
        documents = con.execute("SELECT article_id, title_terms, body_terms FROM search_documents").fetchall()
        assert len(documents) == 17
        queries = ["房地产 投资 下降", "粤海 铁路", "钾肥", "上海 数据 发布", "12306 app", "的"]
        ours, fts = _ours(con, queries), _fts_scores(documents, queries)
        _assert_same(ours, fts)
        assert len(ours[("房地产 投资 下降", "")]) >= 3
    finally:
        con.close()


def test_an_upgraded_warehouse_drops_the_fts_index_and_segments_again(tmp_path):
    """Migration 013 on a warehouse with an fts index: fts's tables go, `match_bm25` is ours, every search
    document is marked stale (the next analytics refresh segments and indexes it)."""
    from newsetl.warehouse.db import migrations

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE schema_version "
                    "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
        for version, name, sql in migrations():
            if version < 13:
                con.execute(sql)
                con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [version, name])
        con.execute("INSERT INTO search_documents VALUES ('a1', 'h1', '粤海 铁路', '铁路', 2)")
        fts = resources.files("duckdb_extension_fts").joinpath(
            "extensions", f"v{duckdb.__version__}", "fts.duckdb_extension")
        con.execute(f"INSTALL '{fts}'")
        con.execute("LOAD fts")
        con.execute("PRAGMA create_fts_index('search_documents', 'article_id', 'title_terms', 'body_terms')")
    connect_writer(path).close()
    with duckdb.connect(str(path)) as con:  # no fts loaded here
        tables = con.execute("SELECT table_name FROM information_schema.tables "
                             "WHERE table_schema = 'fts_main_search_documents'").fetchall()
        macros = con.execute("SELECT function_name FROM duckdb_functions() "
                             "WHERE schema_name = 'fts_main_search_documents'").fetchall()
        assert tables == [] and macros == [("match_bm25",)]
        assert con.execute("SELECT article_id, content_hash FROM search_documents").fetchall() == [("a1", "")]
        assert con.execute(SCORES.format(args=""), ["铁路"]).fetchall() == []  # not indexed yet


@pytest.mark.parametrize("query", ["", "   "])
def test_a_query_without_terms_matches_nothing(tmp_path, query):
    con = connect_writer(tmp_path / "wh.duckdb")
    try:
        _index(con, _generated(random.Random(3), 20))
        assert con.execute(SCORES.format(args=""), [query]).fetchall() == []
    finally:
        con.close()


ANALYTICS_TABLES = {
    "search_documents": "article_id", "article_tokens": "article_id, term", "article_minhash": "article_id",
    "story_clusters": "article_id", "search_index_docs": "article_id",
}


def test_worker_pool_gives_the_same_tables_as_inline(reporting_warehouse, tmp_path, monkeypatch):  # noqa: F811
    """Segmentation, signatures and LSH bands on the worker processes: the same rows as computed in-process,
    also when the first chunks were handed to the workers ahead of the step (`start_analytics`)."""
    from newsetl.config import ReportingConfig
    from concurrent.futures import wait

    from newsetl.reporting import keywords, parallel
    from newsetl.reporting.analytics import refresh_analytics, start_analytics
    from newsetl.runtime.worker_pool import worker_pool

    monkeypatch.setattr(parallel, "POOL_MIN_ARTICLES", 1)  # 17 articles: on the pool all the same
    used = []
    pool_for = parallel.pool_for
    monkeypatch.setattr(parallel, "pool_for", lambda pool, n: used.append(pool_for(pool, n)) or used[-1])

    tables = {}
    for mode in ("inline", "pool", "ahead"):
        path = tmp_path / f"{mode}.duckdb"
        shutil.copy(reporting_warehouse["path"], path)
        con = connect_writer(path)
        try:
            for table in [t for t in ANALYTICS_TABLES if t != "article_tokens"] + [
                    "search_index_keywords", "search_index_terms", "search_index_dict"]:  # article_tokens: a view
                con.execute(f"DELETE FROM {table}")
            if mode != "inline":
                worker_pool(2)
            ahead = None
            if mode == "ahead":  # the ingest's order: chunks handed out before the image URL registration
                monkeypatch.setattr(keywords, "CHUNK", 4)
                ahead = start_analytics(con, ReportingConfig())
                handed = [item.future for item in ahead.documents.chunks.pending]
                assert len(handed) == parallel.AHEAD and None not in handed
                assert len(wait(handed, timeout=120).done) == parallel.AHEAD  # segmented while nothing waits
            summary = refresh_analytics(con, ReportingConfig(), parallel=mode != "inline", ahead=ahead)
            assert (summary.segmented, summary.hashed, summary.indexed) == (17, 17, 17)
            tables[mode] = {t: con.execute(f"SELECT * EXCLUDE (docid) FROM {t} ORDER BY {o}").fetchall()
                            if t == "search_index_docs" else con.execute(f"SELECT * FROM {t} ORDER BY {o}").fetchall()
                            for t, o in ANALYTICS_TABLES.items()}
            tables[mode]["scores"] = _ours(con, ["房地产 投资 下降", "粤海 铁路"])
        finally:
            con.close()
    scores = {mode: tables[mode].pop("scores") for mode in tables}
    assert tables["pool"] == tables["inline"] and tables["ahead"] == tables["inline"]
    # Scores equal to 1e-9 and ranked alike: the documents' ids may be given in another order on the pool, and
    # DuckDB adds a document's term scores in any order, so the last bit can differ (as against fts above).
    _assert_same(scores["pool"], scores["inline"])
    _assert_same(scores["ahead"], scores["inline"])
    tables["inline"]["scores"] = scores["inline"]
    third = len(used) // 3  # per mode: documents, remaining signatures, LSH bands
    inline, pooled, ahead = used[:third], used[third:2 * third], used[2 * third:]
    assert all(pool is None for pool in inline) and None not in (pooled[0], pooled[-1], ahead[0], ahead[-1])
    assert len(tables["inline"]["article_tokens"]) > 1000 and tables["inline"]["scores"][("粤海 铁路", "")]


DIGEST_SQL = {
    "articles": "SELECT title, content_hash, body_text FROM articles ORDER BY ALL",
    "search_documents": "SELECT a.title, s.content_hash, s.title_terms, s.body_terms, s.keyword_terms "
                        "FROM search_documents s JOIN articles a USING (article_id) ORDER BY ALL",
    "article_tokens": "SELECT a.title, t.term, t.tf FROM article_tokens t JOIN articles a USING (article_id) "
                      "ORDER BY ALL",
    "story_clusters": "SELECT c.title, a.title, s.similarity FROM story_clusters s JOIN articles a USING (article_id) "
                      "JOIN articles c ON c.article_id = s.cluster_id ORDER BY ALL",
    "article_minhash": "SELECT a.title, m.content_hash, m.params, m.signature FROM article_minhash m "
                       "JOIN articles a USING (article_id) ORDER BY ALL",
}


def test_analytics_tables_equal_those_of_the_code_before_the_incremental_index(reporting_warehouse):  # noqa: F811
    """(rows, sha256 of the rows) of each analytics table, pinned from commit 46f8a9b's `newsetl ingest` of the same
    fixture posts (tests/fixtures/analytics_digests.json). Articles are keyed by title (ids depend on paths)."""
    import hashlib
    import json

    pinned = json.loads((Path(__file__).parent / "fixtures" / "analytics_digests.json").read_text(encoding="utf-8"))
    con = connect_reader(reporting_warehouse["path"])
    try:
        ours = {table: [len(rows := con.execute(sql).fetchall()), hashlib.sha256(repr(rows).encode()).hexdigest()]
                for table, sql in DIGEST_SQL.items()}
    finally:
        con.close()
    if ours["articles"] != pinned["articles"]:
        pytest.skip("the fixture articles' text changed since the pin was made: the pin no longer applies")
    assert {t: ours[t] for t in DIGEST_SQL} == {t: pinned[t] for t in DIGEST_SQL}
