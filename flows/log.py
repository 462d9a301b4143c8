"""One line per finished phase of a run, logged to the run's Prefect logs (the UI's Logs tab) at INFO.

The CLI shows the same lines above its progress bar (`newsetl.cli.output.progress_bar` picks them out by the
`newsetl_phase` attribute), so the terminal and the UI tell the same story.
"""

from __future__ import annotations

import logging

from prefect import get_run_logger
from prefect.exceptions import MissingContextError

from newsetl.runtime.timeline import mark

PHASE = "newsetl_phase"


def phase(message: str, *args: object) -> None:
    """Log `message % args` at INFO to the current Prefect run (or the `newsetl` logger outside a run)."""
    mark(message.split(":", 1)[0])
    try:
        logger: logging.Logger | logging.LoggerAdapter = get_run_logger()
    except MissingContextError:
        logger = logging.getLogger("newsetl")
    logger.info(message, *args, extra={PHASE: True})
