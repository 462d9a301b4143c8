"""The task runner named in the config: threads (default), a process pool, or a Dask cluster.

Workers only read, parse and clean; they hand `Batch` objects back as return values and never open
DuckDB: the flow process is the warehouse's single writer.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any, Callable, TypeVar

from prefect import Flow, Task
from prefect.futures import PrefectConcurrentFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from newsetl.config import Config, RunnerConfig
from newsetl.errors import ConfigError
from newsetl.worker_pool import pickled, run_in_worker, worker_pool

F = TypeVar("F", bound=Flow)


def default_workers() -> int:
    return os.cpu_count() or 1


class ProcessTaskRunner(ThreadPoolTaskRunner):
    """Task runs orchestrated in the flow process; their bodies run on a warm pool of worker processes.

    Prefect's own ProcessPoolTaskRunner runs the whole task engine in each worker. Measured here on 20k posts
    (2 cores): its workers started their first batch 4.2 s after submission (a fresh interpreter importing
    Prefect and connecting to the API) and spent 0.3-0.5 s of engine work between batches, so two processes
    were slower than one thread (0.92x). Here the task engine stays in the flow process, where Prefect is
    warm, and only the task's function crosses to a worker (newsetl/worker_pool.py): states, retries and
    artifacts are as with threads, and the workers only compute. A call past the task's `timeout_seconds`
    has its worker processes stopped, which threads cannot do.
    """

    def __init__(self, workers: int) -> None:
        # Two task-run threads per process: while one run reports its state, the next batch is already queued.
        super().__init__(max_workers=2 * workers)
        self.workers = workers
        self._offloaded: dict[int, Task] = {}

    def duplicate(self) -> "ProcessTaskRunner":
        return type(self)(self.workers)

    def __enter__(self) -> "ProcessTaskRunner":
        super().__enter__()
        worker_pool(self.workers)  # start the processes now, while the flow is still discovering input
        return self

    def submit(self, task: Task, parameters: dict[str, Any], wait_for: Any = None,
               dependencies: Any = None) -> PrefectConcurrentFuture:
        return super().submit(self._in_workers(task), parameters, wait_for, dependencies)

    def _in_workers(self, task: Task) -> Task:
        """`task` with its function running on the worker pool (cached per task for the run)."""
        if task.isasync:
            return task
        offloaded = self._offloaded.get(id(task))
        if offloaded is None:
            offloaded = task.with_options()
            offloaded.fn = _runs_in_worker(task.fn, self.workers, task.timeout_seconds)
            offloaded.timeout_seconds = None  # enforced by the worker pool, which can stop a stuck call
            self._offloaded[id(task)] = offloaded
        return offloaded


def _runs_in_worker(fn: Callable, workers: int, timeout: float | None) -> Callable:
    function = pickled(fn)

    @functools.wraps(fn)  # keeps fn's signature, which Prefect binds the parameters to
    def in_worker_process(*args: Any, **kwargs: Any) -> Any:
        return run_in_worker(workers, function, args, kwargs, timeout)

    return in_worker_process


def task_runner_for(runner: RunnerConfig) -> TaskRunner:
    """A fresh task runner for one flow run, as configured."""
    workers = runner.workers or default_workers()
    if runner.kind == "threads":
        # Parse and clean are CPU-bound: under the GIL more threads only fight each other and the loader.
        # Measured on 20k posts (2 cores): 1 worker 748 posts/s and a 4.9 s load step; 4 workers 598 and 8.4 s.
        return ThreadPoolTaskRunner(max_workers=runner.workers or 1)
    if runner.kind == "processes":
        return ProcessTaskRunner(workers)
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
