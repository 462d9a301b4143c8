"""The reporting tests' warehouse: real posts (plus a planted near-duplicate and a broken file) ingested once
per session through the real `ingest` flow. Import the fixture into a test module to use it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from newsetl.config import config_from_dict

FIXTURES = Path(__file__).parent / "fixtures" / "reporting"
PLANTED = "1-5月上海市房地产开发投资同比下降18.0%"
PLANTED_REPOST = "1-5月上海房地产开发投资比去年同期下降18.0%。"


@pytest.fixture(scope="session")
def reporting_warehouse(prefect_api, tmp_path_factory) -> dict:
    """Ingest tests/fixtures/reporting/{newsroom,reposts}; returns the config, warehouse path and run summary."""
    from newsetl.flows.ingest import ingest

    root = tmp_path_factory.mktemp("reporting")
    shutil.copytree(FIXTURES, root / "posts")
    config = config_from_dict({
        "warehouse": "wh/newsetl.duckdb",
        "images": {"enabled": False},
        "sources": [
            {"type": "hexo_dir", "name": "newsroom", "path": "posts/newsroom"},
            {"type": "hexo_dir", "name": "reposts", "path": "posts/reposts"},
        ],
    }, base_dir=root)
    summary = ingest(config)
    return {"config": config, "path": config.resolve(config.warehouse), "summary": summary, "root": root}


def write_config(info: dict) -> Path:
    """A newsetl.yaml for the CLI pointing at the fixture warehouse."""
    path = info["root"] / "newsetl.yaml"
    path.write_text(f"warehouse: {info['path']}\nimages: {{enabled: false}}\n", encoding="utf-8")
    return path
