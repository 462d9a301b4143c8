"""Images orchestration: the ingest flow's `images_step`, and the `images` flow behind `newsetl images`.

The flow is recorded like an ingest run (`newsetl.flows.record.recorded_run`), as an `ingest_runs` row of kind
'images' with the image counts, and publishes the same `newsetl-images` artifact as the ingest flow's images step.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
from prefect import flow

from newsetl.config import Config
from newsetl.flows.log import phase
from newsetl.flows.record import begin_run, recorded_run, run_state
from newsetl.images.register import register_images
from newsetl.images.summary import ImageSummary
from newsetl.posts.sources import local_roots  # the Hexo sites' folders, for `local:` image keys
from newsetl.runs import RunSummary
from newsetl.tasks.images import images_task
from newsetl.warehouse.db import connect_writer


def images_step(con: duckdb.DuckDBPyConnection, config: Config, summary: RunSummary) -> ImageSummary | None:
    """The ingest flow's call after loading: fetch images (or, with images off, just record their URLs).

    `summary` is the flow's RunSummary: the image counts go into its `extra`, a line for the CLI's summary
    and the stage time. An image failure never fails the run.
    """
    if not config.images.enabled:
        pending = register_images(con, run_id=summary.run_id)
        summary.extra.setdefault("summary_lines", []).append(
            f"images: off ({pending} new URLs recorded as pending; `newsetl images` fetches them)"
        )
        phase("images: off, %d new URLs recorded as pending", pending)
        return None
    try:
        result: ImageSummary = images_task(con, config, run_id=summary.run_id, local_roots=local_roots(config))
    except Exception as exc:  # e.g. the task's timeout: the articles are loaded; say so and go on
        summary.add_problem(f"images step stopped: {type(exc).__name__}: {exc}", message=True)
        summary.extra.setdefault("summary_lines", []).append(
            f"images: step stopped ({type(exc).__name__}); `newsetl images` fetches what is left")
        return None
    summary.extra["images"] = result.as_dict()
    summary.stage_seconds["images"] = result.seconds
    summary.extra.setdefault("summary_lines", []).append(result.line())
    phase("%s (%.1f s)", result.line(), result.seconds)
    return result


@flow(name="images", log_prints=False)
def images(config: Config, retry_failed: bool = False, since: datetime | None = None) -> dict:
    """Fetch what the referenced images need: new and pending URLs, stale ones, failed ones within limits."""
    summary = begin_run()
    con = connect_writer(config.resolve(config.warehouse))
    try:
        with recorded_run(con, summary, kind="images"):
            result = images_task(con, config, run_id=summary.run_id, retry_failed=retry_failed, since=since,
                                 local_roots=local_roots(config))
            summary.extra["images"] = result.as_dict()
            summary.stage_seconds["images"] = result.seconds
            summary.message = result.line()
    finally:
        con.close()
    return run_state({"run_id": summary.run_id, "flow_run_id": summary.flow_run_id, "status": summary.status,
                      "line": result.line(),
                      "problems": summary.problems, **result.as_dict()})
