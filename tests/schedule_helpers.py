"""Helpers for the schedule/overlap/backfill/runner tests: a fresh copy of the fixture posts and configs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


from newsetl.config import Config, config_from_dict
from tests.helpers import rows  # noqa: F401  (re-exported for the schedule tests)

ROOT = Path(__file__).resolve().parent.parent
POSTS = ROOT / "tests" / "fixtures" / "posts"
PYTHON = sys.executable


def copy_posts(tmp_path: Path) -> Path:
    target = tmp_path / "posts"
    shutil.copytree(POSTS, target)
    return target


def config_dict(tmp_path: Path, posts: Path, **extra) -> dict:
    return {"warehouse": str(tmp_path / "wh.duckdb"), "images": {"enabled": False},
            "reporting": {"enabled": False}, "batch_size": 5,
            "sources": [{"name": "posts", "type": "hexo_dir", "path": str(posts)}], **extra}


def make(tmp_path: Path, posts: Path, **extra) -> Config:
    return config_from_dict(config_dict(tmp_path, posts, **extra), base_dir=tmp_path)


def write_config(tmp_path: Path, data: dict) -> Path:
    import yaml

    path = tmp_path / "newsetl.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def newsetl(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `newsetl` CLI in a child process from the repo root."""
    return subprocess.run([PYTHON, "-m", "newsetl.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
