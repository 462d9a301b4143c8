"""Exports (partitioned Parquet, CSV) read back with DuckDB, and `newsetl query --out`."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from newsetl.cli import main
from reporting_warehouse import reporting_warehouse, write_config  # noqa: F401
from newsetl.warehouse.db import connect_reader


def _counts(path: Path, names: list[str]) -> dict[str, int]:
    con = connect_reader(path)
    try:
        return {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in names}
    finally:
        con.close()


def test_parquet_export_reads_back(reporting_warehouse, tmp_path, capsys):  # noqa: F811
    config = write_config(reporting_warehouse)
    out = tmp_path / "bi"
    assert main(["export", "--config", str(config), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "articles: 17 rows" in printed and "stories: 16 rows" in printed
    names = sorted(p.name for p in out.iterdir())
    assert {"articles", "paragraphs", "story_clusters", "article_keywords", "daily_articles", "run_history",
            "source_summary", "stories", "keyword_trends"} <= set(names)
    expected = _counts(reporting_warehouse["path"], names)
    con = duckdb.connect()
    for name in names:
        got = con.execute(f"SELECT count(*) FROM read_parquet('{out / name}/**/*.parquet', "
                          "hive_partitioning = true)").fetchone()[0]
        assert got == expected[name], name
    # articles are partitioned by source and UTC month
    assert (out / "articles" / "source=reposts" / "published_month=2022-06").is_dir()
    assert con.execute(f"SELECT count(*) FROM read_parquet('{out}/articles/**/*.parquet', hive_partitioning = true) "
                       "WHERE source = 'newsroom' AND published_month = '2022-07'").fetchone() == (3,)


def test_csv_export_of_chosen_tables(reporting_warehouse, tmp_path, capsys):  # noqa: F811
    config = write_config(reporting_warehouse)
    out = tmp_path / "csv"
    assert main(["export", "--config", str(config), "--format", "csv", "--out", str(out),
                 "--tables", "source_summary,stories"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["source_summary", "stories"]
    with open(out / "source_summary" / "source_summary.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["source"], r["articles"], r["rejected"]) for r in rows] in (
        [("newsroom", "16", "0"), ("reposts", "1", "1")], [("reposts", "1", "1"), ("newsroom", "16", "0")])
    count = duckdb.connect().execute(f"SELECT count(*) FROM read_csv('{out}/stories/stories.csv')").fetchone()[0]
    assert count == 16


def test_unknown_table_is_a_one_line_error(reporting_warehouse, tmp_path, capsys):  # noqa: F811
    config = write_config(reporting_warehouse)
    code = main(["export", "--config", str(config), "--out", str(tmp_path / "x"), "--tables", "nope"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("newsetl: error: unknown table 'nope'; choose from ") and err.count("\n") == 1


def test_query_out_file(reporting_warehouse, tmp_path, capsys):  # noqa: F811
    config = write_config(reporting_warehouse)
    target = tmp_path / "summary.csv"
    assert main(["query", "--config", str(config), "--out", str(target),
                 "SELECT source, articles FROM source_summary ORDER BY source"]) == 0
    assert target.read_text(encoding="utf-8") == "source,articles\nnewsroom,16\nreposts,1\n"
    assert "wrote 2 rows to" in capsys.readouterr().err
