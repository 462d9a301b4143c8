"""The `images` flow behind `newsetl images`: (re)fetch images outside a full ingest.

It records itself in `ingest_runs` (kind = 'images') with the image counts, and publishes the same
markdown artifact as the images step of the ingest flow.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from prefect import flow
from prefect.context import get_run_context

from newsetl.config import Config
from tasks.images import images_task
from warehouse.db import connect_writer


def _flow_run_id() -> str | None:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # called outside a flow run
        return None


@flow(name="images", log_prints=False)
def images(config: Config, retry_failed: bool = False, since: datetime | None = None) -> dict:
    """Fetch what the referenced images need: new and pending URLs, stale ones, failed ones within limits."""
    run_id = uuid.uuid4().hex[:12]
    con = connect_writer(config.resolve(config.warehouse))
    try:
        con.execute(
            "INSERT INTO ingest_runs (run_id, flow_run_id, started_at, status, kind, sources) "
            "VALUES (?, ?, ?, 'running', 'images', [])",
            [run_id, _flow_run_id(), datetime.now(timezone.utc)],
        )
        try:
            summary = images_task(con, config, run_id=run_id, retry_failed=retry_failed, since=since)
        except BaseException as exc:
            con.execute(
                "UPDATE ingest_runs SET finished_at = ?, status = 'failed', message = ? WHERE run_id = ?",
                [datetime.now(timezone.utc), f"{type(exc).__name__}: {exc}", run_id],
            )
            raise
        con.execute(
            "UPDATE ingest_runs SET finished_at = ?, status = 'completed', message = ? WHERE run_id = ?",
            [datetime.now(timezone.utc), summary.line(), run_id],
        )
    finally:
        con.close()
    return {"run_id": run_id, "status": "completed", "line": summary.line(), **summary.as_dict()}
