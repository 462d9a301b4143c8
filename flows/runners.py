"""The task runner named in the config: threads (default), a process pool, or a Dask cluster.

Workers only parse and clean; they hand `Batch` objects back as return values and never open DuckDB:
the flow process is the warehouse's single writer.
"""

from __future__ import annotations

import logging
import os
from typing import TypeVar

from prefect import Flow
from prefect.settings import get_current_settings
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from newsetl.config import Config, RunnerConfig
from newsetl.errors import ConfigError

F = TypeVar("F", bound=Flow)


def default_workers() -> int:
    return os.cpu_count() or 1


def share_ephemeral_api() -> None:
    """Point worker processes at this process's ephemeral Prefect API.

    Without a configured PREFECT_API_URL every spawned worker would start an ephemeral API server of its
    own (seconds each, on every run); sharing the parent's makes worker start-up a plain import.
    """
    if get_current_settings().api.url or os.environ.get("PREFECT_API_URL"):
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the singleton the parent's own client uses
    server.start()                   # no-op when already running
    os.environ["PREFECT_API_URL"] = server.api_url


class SharedApiProcessPoolTaskRunner(ProcessPoolTaskRunner):
    """Prefect's process pool runner whose workers report to the parent's ephemeral API."""

    def __enter__(self) -> "SharedApiProcessPoolTaskRunner":
        share_ephemeral_api()
        return super().__enter__()


def task_runner_for(runner: RunnerConfig) -> TaskRunner:
    """A fresh task runner for one flow run, as configured."""
    workers = runner.workers or default_workers()
    if runner.kind == "threads":
        # Parse and clean are CPU-bound: under the GIL more threads only fight each other and the loader.
        # Measured on 20k posts (2 cores): 1 worker 748 posts/s and a 4.9 s load step; 4 workers 598 and 8.4 s.
        return ThreadPoolTaskRunner(max_workers=runner.workers or 1)
    if runner.kind == "processes":
        return SharedApiProcessPoolTaskRunner(max_workers=workers)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError("runner.kind: dask needs prefect-dask: pip install 'newsetl[dask]'") from None
    if runner.dask_address:
        return DaskTaskRunner(address=runner.dask_address)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})


def with_runner(flow: F, config: Config) -> F:
    """`flow` set to run its tasks on the runner from `config.runner`."""
    return flow.with_options(task_runner=task_runner_for(config.runner))


class _ThreadTimeoutNotice(logging.Filter):
    """Drop Prefect's per-task-run notice that a worker-thread timeout cannot interrupt blocking calls.

    Every task has a `timeout_seconds`; with the thread runner Prefect logs this WARNING once per task run,
    which would flood the CLI. The timeouts still apply (enforced when the blocking call returns).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout of ") or "worker thread" not in record.getMessage()


def quiet_thread_timeout_notice() -> None:
    logger = logging.getLogger("prefect.task_runs")
    if not any(isinstance(f, _ThreadTimeoutNotice) for f in logger.filters):
        logger.addFilter(_ThreadTimeoutNotice())


quiet_thread_timeout_notice()
