"""`make demo`, then the README's commands in sequence: none of them degrades the demo's warehouse.

The demo runs for real (examples/demo.py: its 127.0.0.1 image and feed servers, its ./newsetl.yaml) in a
temporary folder. Name lookups other than 127.0.0.1/localhost fail here as they do offline, so the real posts'
image hosts are recorded failures and nothing but 127.0.0.1 is contacted.
"""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

from helpers import rows
from newsetl.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def offline(monkeypatch):
    real = socket.getaddrinfo

    def lookup(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


def _demo():
    spec = importlib.util.spec_from_file_location("newsetl_demo", ROOT / "examples" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _images(warehouse: Path) -> dict[str, list[tuple]]:
    return {
        "ok fetches": rows(warehouse, "SELECT url, sha256 FROM image_fetches WHERE status = 'ok' ORDER BY url"),
        "linked": rows(warehouse, "SELECT article_id, position, sha256 FROM article_images "
                                  "WHERE sha256 IS NOT NULL ORDER BY 1, 2"),
        "files": rows(warehouse, "SELECT sha256, path FROM images ORDER BY sha256"),
    }


def test_readme_commands_after_the_demo_never_degrade_it(tmp_path: Path, monkeypatch, offline, capsys) -> None:
    if not _port_free(8765):
        pytest.skip("port 8765 (the demo's image server) is in use")
    demo = _demo()
    assert demo.main(tmp_path, queries=False) == 0
    config = tmp_path / "newsetl.yaml"
    assert config.read_text(encoding="utf-8").startswith(demo.MARKER)  # a working ./newsetl.yaml
    warehouse = tmp_path / "data" / "newsetl.duckdb"
    before = _images(warehouse)
    assert len(before["ok fetches"]) == 7 and len(before["linked"]) >= 7  # 6 served by the demo, 1 data: URI
    store = tmp_path / "data" / "images"
    assert all(path.count("/") == 2 and (store / path).is_file() for _, path in before["files"])  # store-relative
    articles = rows(warehouse, "SELECT count(*) FROM articles")[0][0]

    monkeypatch.chdir(tmp_path)  # the README's commands, as a user types them after `make demo`
    readme = [
        (["ingest"], 3),  # the demo's feeds were served by the demo only: unreachable now, so partial
        (["ingest", str(ROOT / "examples" / "posts")], 0),  # the configured `archive` source: nothing new
        (["ingest", str(ROOT / "examples" / "posts" / "金融"), "--no-images"], 0),
        (["images"], 0),
        (["images", "--retry-failed"], 0),
        (["images", "--since", "7d"], 0),
        (["query", "SELECT title, published_at FROM articles LIMIT 5"], 0),
        (["query", "SELECT source, count(*), avg(char_count)::INT FROM articles GROUP BY 1", "--format", "csv"], 0),
        (["runs"], 0),
        (["search", "新能源 汽车"], 0),
        (["export", "--format", "parquet", "--out", "bi/", "--tables", "articles", "stories"], 0),
        (["query", "SELECT * FROM stories WHERE articles > 1", "--out", "stories.csv"], 0),
        (["backfill", "--since", "2021-03-29", "--until", "2021-08-30"], 0),
        (["reprocess", "--rules-changed"], 0),
        (["init"], 2),  # refuses to overwrite the demo's config
    ]
    for argv, expected in readme:
        code = main(argv)
        output = capsys.readouterr()
        assert code == expected, (argv, output.out, output.err)
        assert _images(warehouse) == before, argv
        assert rows(warehouse, "SELECT count(*) FROM articles")[0][0] == articles, argv
    assert config.read_text(encoding="utf-8").startswith(demo.MARKER)

    # Another folder, no config file, the same warehouse and store named through the environment (default
    # policy: 127.0.0.1 blocked). Stored paths are relative to the store, so every stored file is found and
    # reused: nothing is fetched again, refused, or unlinked.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("NEWSETL_WAREHOUSE", "../data/newsetl.duckdb")
    monkeypatch.setenv("NEWSETL_IMAGES__STORE", "../data/images")
    assert main(["images", "--retry-failed"]) == 0
    assert "7 reused" in capsys.readouterr().out
    assert _images(warehouse) == before
