"""Shared fixtures: one real Prefect API for the session, the real posts, fresh warehouses, and a real
image server on 127.0.0.1 (tests/imageserver.py).

Shared by every test module: add fixtures, do not replace the file.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

import newsetl  # noqa: F401  (sets newsetl's Prefect defaults before Prefect is imported)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
POSTS = FIXTURES / "posts"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from imageserver import ImageServer  # noqa: E402

# The `newsetl` processes that tests start never use a Prefect server a developer keeps running on port 4200
# (newsetl/runtime/local_server.py); tests/test_local_server.py turns finding on where it tests it.
os.environ["NEWSETL_FIND_PREFECT_SERVER"] = "0"


@pytest.fixture(scope="session", autouse=True)
def prefect_api():
    """A real Prefect API (temporary database) shared by the whole test session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def posts_dir(tmp_path: Path) -> Path:
    """A private copy of the real posts, safe to modify."""
    target = tmp_path / "posts"
    shutil.copytree(POSTS, target)
    return target


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "newsetl.duckdb"


@pytest.fixture
def server():
    with ImageServer() as running:
        yield running


@pytest.fixture(scope="session")
def pics() -> dict[str, bytes]:
    """Real image files (PNG, JPEG, GIF, WebP) from examples/images, by file name."""
    folder = ROOT / "examples" / "images"
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}
