"""The `images` flow behind `newsetl images`: (re)fetch images outside a full ingest.

It is recorded like an ingest run (`newsetl.tasks.record.recorded_run`), as an `ingest_runs` row of kind 'images'
with the image counts, and publishes the same `newsetl-images` artifact as the ingest flow's images step.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from newsetl.config import Config
from newsetl.tasks.images import images_task
from newsetl.flows.record import begin_run, recorded_run
from newsetl.warehouse.db import connect_writer


@flow(name="images", log_prints=False)
def images(config: Config, retry_failed: bool = False, since: datetime | None = None) -> dict:
    """Fetch what the referenced images need: new and pending URLs, stale ones, failed ones within limits."""
    summary = begin_run()
    con = connect_writer(config.resolve(config.warehouse))
    try:
        with recorded_run(con, summary, kind="images"):
            result = images_task(con, config, run_id=summary.run_id, retry_failed=retry_failed, since=since)
            summary.extra["images"] = result.as_dict()
            summary.stage_seconds["images"] = result.seconds
            summary.message = result.line()
    finally:
        con.close()
    return {"run_id": summary.run_id, "status": summary.status, "line": result.line(), **result.as_dict()}
