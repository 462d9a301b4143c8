"""Scheduled ingest runs: the `newsetl-scheduled` flow and the deployments `newsetl serve` registers.

Each `deployments:` entry in the config becomes a Prefect deployment of `scheduled_ingest` with a cron (in
its time zone) or interval schedule. The flow takes the warehouse lock first: when another run is writing,
it waits (`on_overlap: wait`) or ends as `Cancelled` named "Skipped" without touching the warehouse.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.context import get_run_context
from prefect.runner import Runner
from prefect.schedules import Cron, Interval, Schedule
from prefect.settings import get_current_settings
from prefect.states import Cancelled, Completed, Failed, State

from newsetl.flows.ingest import ingest
from newsetl.flows.runners import with_runner
from newsetl.config import Config, DeploymentConfig, load_config
from newsetl.errors import ConfigError, NewsetlError, WarehouseBusy
from newsetl.runtime.lock import warehouse_lock
from newsetl.runs import counts_line

FLOW_NAME = "newsetl-scheduled"


def deployment_config(config: Config, name: str) -> DeploymentConfig:
    for entry in config.deployments:
        if entry.name == name:
            return entry
    raise ConfigError(f"no deployment named {name!r} in the config (have: "
                      f"{', '.join(d.name for d in config.deployments) or 'none'})")


def config_for(config: Config, entry: DeploymentConfig) -> Config:
    """The config narrowed to one deployment's sources and image setting."""
    narrowed = config.model_copy(deep=True)
    narrowed.base_dir = config.base_dir
    if entry.sources is not None:
        narrowed.sources = [s for s in config.sources if s.name in entry.sources]
    if entry.images is not None:
        narrowed.images.enabled = entry.images
    return narrowed


def summary_state(summary: dict) -> State:
    """Completed, Completed named "Partial", or Failed, with the run's counts as the message."""
    counts = f"run {summary['run_id']}: {counts_line(summary)}"
    if summary["status"] == "failed":
        return Failed(message=f"{counts}; {summary.get('message') or 'failed'}", data=summary)
    if summary["status"] == "partial":
        return Completed(name="Partial", message=f"{counts}; some sources could not be read", data=summary)
    return Completed(message=counts, data=summary)


def _flow_run_label() -> str:
    try:
        return f"flow run {get_run_context().flow_run.id}"
    except Exception:
        return ""


@flow(name=FLOW_NAME, log_prints=False)
def scheduled_ingest(config_path: str, deployment: str) -> State:
    """Ingest one deployment's sources, unless another run is writing the warehouse."""
    logger = get_run_logger()
    config = load_config(Path(config_path), required=True)
    entry = deployment_config(config, deployment)
    config = config_for(config, entry)
    warehouse = config.resolve(config.warehouse)
    wait = entry.wait_seconds if entry.on_overlap == "wait" else 0.0
    try:
        with warehouse_lock(warehouse, wait, holder=_flow_run_label()):
            summary = with_runner(ingest, config)(config)
    except WarehouseBusy as exc:
        logger.warning("skipped: %s", exc)
        return Cancelled(name="Skipped", message=str(exc))
    return summary_state(summary)


def schedule_for(entry: DeploymentConfig) -> Schedule:
    if entry.cron is not None:
        return Cron(entry.cron, timezone=entry.timezone)
    return Interval(timedelta(seconds=entry.interval), timezone=entry.timezone)


def describe(entry: DeploymentConfig) -> str:
    when = f"cron '{entry.cron}' ({entry.timezone})" if entry.cron else f"every {entry.interval:g} s"
    return f"{when}, sources: {', '.join(entry.sources) if entry.sources else 'all'}"


def build_deployments(config: Config, config_path: Path) -> list:
    """One RunnerDeployment per `deployments:` entry."""
    return [
        scheduled_ingest.to_deployment(
            name=entry.name, schedules=[schedule_for(entry)], tags=["newsetl"],
            parameters={"config_path": str(config_path.resolve()), "deployment": entry.name},
            description=f"newsetl ingest: {describe(entry)}",
        )
        for entry in config.deployments
    ]


def api_urls() -> tuple[str, str]:
    """(API URL, UI URL) of the Prefect server; a clear error when none is configured."""
    settings = get_current_settings()
    if not settings.api.url:
        raise ConfigError("schedules need a Prefect server: run `prefect server start` on this machine, or "
                          "`export PREFECT_API_URL=http://HOST:4200/api` for one elsewhere")
    return settings.api.url, settings.ui_url or settings.api.url.removesuffix("/api")


class _Runner(Runner):
    """Prefect's runner, stopped by SIGTERM the way Ctrl-C stops it.

    Prefect's own SIGTERM handler calls the runner's blocking `stop()` from inside the event loop it waits
    on, so `newsetl serve` never ended on SIGTERM. Raising SIGINT instead lets `asyncio.run` cancel the
    runner: it stops polling, cancels the runs in flight (their `ingest_runs` rows are marked aborted by the
    next run), pauses the schedules and closes its client, then the command exits 0.
    """

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        signal.raise_signal(signal.SIGINT)


def serve_deployments(config: Config, config_path: Path, limit: int | None = None) -> None:
    """Register every configured deployment and run their scheduled runs until SIGINT (Ctrl-C) or SIGTERM."""
    if not config.deployments:
        raise ConfigError(f"{config_path}: no deployments: add a `deployments:` section with cron or interval")
    api_url, ui_url = api_urls()
    deployments = build_deployments(config, config_path)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Started in the background (`nohup newsetl serve &`: the shell ignores SIGINT for background jobs).
        # SIGTERM stops the runner through SIGINT (above), and asyncio.run only cancels on SIGINT when Python's
        # own handler is in place: restore it, or SIGTERM would do nothing.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    runner = _Runner(pause_on_shutdown=True, limit=limit)
    # The same handler from now on: `add_deployment` registers each deployment with the API before
    # `runner.start()` installs it (after importing Prefect's webserver, ~1 s on a busy machine), and a SIGTERM
    # in between ended the process with the signal's default action (exit -15, no "stopped").
    signal.signal(signal.SIGTERM, runner.handle_sigterm)
    try:
        for entry in config.deployments:
            print(f"deployment {FLOW_NAME}/{entry.name}: {describe(entry)}")
        print(f"Prefect API: {api_url}\nsee runs at: {ui_url}/deployments (Ctrl-C stops serving)", flush=True)
        for deployment in deployments:
            runner.add_deployment(deployment)
        asyncio.run(runner.start())
    except KeyboardInterrupt:
        pass  # SIGINT or SIGTERM: the runner has shut down
    except Exception as exc:  # the API went away under the runner, or refused it
        raise NewsetlError(f"serving stopped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                           f" (Prefect API {api_url})") from None
    print("newsetl serve: stopped", flush=True)
