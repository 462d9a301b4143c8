"""Small helpers for tests: configs and warehouse queries."""

from __future__ import annotations

from pathlib import Path

import duckdb

from newsetl.config import Config, config_from_dict


def make_config(tmp_path: Path, warehouse: Path, sources: list[dict], **extra) -> Config:
    data = {"warehouse": str(warehouse), "sources": sources, "images": {"enabled": False}, **extra}
    return config_from_dict(data, base_dir=tmp_path)


def rows(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def scalar(warehouse: Path, sql: str, params: list | None = None):
    return rows(warehouse, sql, params)[0][0]
