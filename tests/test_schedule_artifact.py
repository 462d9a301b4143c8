"""Observability of a run: the markdown artifact in Prefect and the `ingest_runs` row."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from schedule_helpers import copy_posts, make, rows

from newsetl.flows.ingest import ingest


async def _artifacts(flow_run_id: str) -> list[tuple[str, str]]:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return [(a.key, a.data) for a in found]


def test_run_writes_artifact_with_counts_stages_and_sources(tmp_path: Path) -> None:
    posts = copy_posts(tmp_path)
    (posts / "broken.md").write_bytes(b"\x00\x01 not a post")
    config = make(tmp_path, posts)

    summary = ingest(config)

    artifacts = dict(asyncio.run(_artifacts(summary["flow_run_id"])))
    markdown = artifacts["ingest-run-summary"]
    assert f"# newsetl run `{summary['run_id']}`: completed" in markdown
    assert "| 16 | 15 | 0 | 0 | 1 | " in markdown  # discovered, new, updated, unchanged, rejected, duration (s)
    assert "## Time per stage" in markdown and "| discover |" in markdown
    assert "| read | not a text file (contains NUL bytes) | 1 |" in markdown
    assert "## Per source\n\n| source | new or updated | rejected |\n|---|---:|---:|\n| posts | 15 | 1 |" in markdown
    assert rows(tmp_path / "wh.duckdb", "SELECT run_id, flow_run_id, status, discovered, new, rejected "
                                        "FROM ingest_runs") == [
        (summary["run_id"], summary["flow_run_id"], "completed", 16, 15, 1)]


def test_scheduled_run_with_a_missing_folder_ends_partial_with_counts(tmp_path: Path) -> None:
    from newsetl.flows.deployments import scheduled_ingest
    from schedule_helpers import config_dict, write_config

    data = config_dict(tmp_path, copy_posts(tmp_path), deployments=[{"name": "both", "interval": "1h"}])
    data["sources"].append({"name": "gone", "type": "hexo_dir", "path": str(tmp_path / "no-such-folder")})
    state = scheduled_ingest(str(write_config(tmp_path, data)), "both", return_state=True)

    assert (state.type.value, state.name) == ("COMPLETED", "Partial")
    assert state.message.endswith("15 new, 0 updated, 0 unchanged, 1 rejected; some sources could not be read")
    assert rows(tmp_path / "wh.duckdb", "SELECT status, new, rejected FROM ingest_runs") == [("partial", 15, 1)]
