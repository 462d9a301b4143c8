"""Helpers for image tests: a config with a temp store, and a warehouse with articles that cite images."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from newsetl.config import Config, config_from_dict
from newsetl.models import article_id_for
from newsetl.warehouse.db import connect_writer

FAST = {
    "retries": 2,
    "backoff": 0.01,
    "backoff_max": 0.05,
    "connect_timeout": 2,
    "read_timeout": 0.5,
    "total_timeout": 3,
    "fsync": False,
}


def allow_ports(*ports: int) -> list[str]:
    """`allow_hosts` entries that open exactly these ports of 127.0.0.1, and nothing else on it."""
    return [f"127.0.0.1:{port}" for port in ports]


def make_config(base: Path, *, server=None, **images) -> Config:
    """Images config with a temp store; `server` (an ImageServer) is allow-listed on its own port only.

    Without `server` (or an explicit `allow_hosts`) nothing on loopback is allowed."""
    allow = {"allow_hosts": allow_ports(server.port)} if server is not None else {}
    return config_from_dict(
        {"warehouse": "wh.duckdb", "images": {"store": "store", **FAST, **allow, **images}}, base_dir=base
    )


def open_warehouse(config: Config):
    return connect_writer(config.resolve(config.warehouse))


def add_article(con, locator: str, images: list, *, url: str | None = None) -> str:
    """Insert a minimal article and its image references [(role, url), ...] or [url, ...]."""
    now = datetime.now(timezone.utc)
    article_id = article_id_for("test", locator)
    con.execute(
        "INSERT INTO articles (article_id, source, source_type, locator, url, title, content_hash, "
        "first_seen_at, updated_at, run_id) VALUES (?, 'test', 'hexo_dir', ?, ?, ?, 'h', ?, ?, 'r0')",
        [article_id, locator, url, locator, now, now],
    )
    for position, item in enumerate(images):
        role, image_url = item if isinstance(item, tuple) else ("body", item)
        con.execute(
            "INSERT INTO article_images (article_id, position, role, url) VALUES (?, ?, ?, ?)",
            [article_id, position, role, image_url],
        )
    return article_id


def one_row(con, table: str, key: str, value: str) -> dict:
    """The row of `table` whose `key` is `value`, as a dict (it must exist)."""
    cursor = con.execute(f"SELECT * FROM {table} WHERE {key} = ?", [value])
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    assert row is not None, f"no {table} row for {value}"
    return dict(zip(names, row))


def fetch_row(con, url: str) -> dict:
    return one_row(con, "image_fetches", "url", url)


def image_row(con, sha256: str) -> dict:
    return one_row(con, "images", "sha256", sha256)


def store_files(config: Config) -> list[Path]:
    root = config.resolve(config.images.store)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
