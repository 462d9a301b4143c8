"""The task runner named in the config: a process pool (default), threads, or a Dask cluster.

Workers only read, parse and clean; they hand `Batch` objects back as return values and never open
DuckDB: the flow process is the warehouse's single writer.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from typing import Any, Callable, TypeVar

from prefect import Flow, Task
from prefect.futures import PrefectConcurrentFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from newsetl.config import Config, RunnerConfig
from newsetl.errors import ConfigError
from newsetl.runtime.worker_pool import WorkerTimeout, pickled, run_in_worker, run_pickled, worker_pool

F = TypeVar("F", bound=Flow)


def default_workers() -> int:
    return os.cpu_count() or 1


class OffloadingTaskRunner(ThreadPoolTaskRunner):
    """Task runs orchestrated in the flow process; only their functions run on workers elsewhere.

    Prefect's own ProcessPoolTaskRunner and prefect-dask's DaskTaskRunner run the whole task engine in each
    worker. Measured here on 20k posts (2 cores): Prefect's process-pool workers started their first batch
    4.2 s after submission (a fresh interpreter importing Prefect and connecting to the API) and spent
    0.3-0.5 s of engine work between batches, so two processes were slower than one thread (0.92x);
    DaskTaskRunner on a 2-worker LocalCluster ran at 572 posts/s, 0.4x one thread. Here the task engine
    stays in the flow process, where Prefect is warm, and only the task's function (by reference) and its
    arguments cross to a worker: task runs, states, retries and artifacts are as with threads, and the
    workers need neither Prefect nor access to its API.
    """

    def __init__(self, workers: int) -> None:
        # Two task-run threads per worker: while one run reports its state, the next batch is already queued.
        super().__init__(max_workers=2 * workers)
        self.workers = workers
        self._offloaded: dict[int, Task] = {}

    def call(self, function: bytes, args: tuple, kwargs: dict, timeout: float | None) -> Any:
        """Run the cloudpickled `function` on a worker and return its result (or raise its exception)."""
        raise NotImplementedError

    def submit(self, task: Task, parameters: dict[str, Any], wait_for: Any = None,
               dependencies: Any = None) -> PrefectConcurrentFuture:
        return super().submit(self._offloaded_task(task), parameters, wait_for, dependencies)

    def _offloaded_task(self, task: Task) -> Task:
        """`task` with its function running on the workers (made once per task for the run)."""
        if task.isasync:
            return task
        offloaded = self._offloaded.get(id(task))
        if offloaded is None:
            offloaded = task.with_options()
            offloaded.fn = self._on_workers(task.fn, task.timeout_seconds)
            offloaded.timeout_seconds = None  # enforced by `call`, which can stop a stuck worker process
            self._offloaded[id(task)] = offloaded
        return offloaded

    def _on_workers(self, fn: Callable, timeout: float | None) -> Callable:
        function = pickled(fn)

        @functools.wraps(fn)  # keeps fn's signature, which Prefect binds the parameters to
        def on_a_worker(*args: Any, **kwargs: Any) -> Any:
            return self.call(function, args, kwargs, timeout)

        return on_a_worker


class ProcessTaskRunner(OffloadingTaskRunner):
    """Task functions on the warm pool of local worker processes (newsetl/worker_pool.py).

    A call past the task's `timeout_seconds` has its worker processes stopped, which threads cannot do.
    """

    def duplicate(self) -> "ProcessTaskRunner":
        return type(self)(self.workers)

    def __enter__(self) -> "ProcessTaskRunner":
        super().__enter__()
        # The pool, without processes yet: they start on its first call, or when the ingest finds a file to
        # prepare (worker_pool.warm), so a run with nothing to prepare starts none.
        worker_pool(self.workers, start=False)
        return self

    def call(self, function: bytes, args: tuple, kwargs: dict, timeout: float | None) -> Any:
        return run_in_worker(self.workers, function, args, kwargs, timeout)


class DaskTaskRunner(OffloadingTaskRunner):
    """Task functions on a Dask cluster: the one at `address`, or a LocalCluster of `workers` processes.

    The cluster's workers need newsetl installed (they import `newsetl.posts.pipeline`), not Prefect's API. A call
    past its timeout fails its task run; Dask cannot stop the running function, which finishes unseen.
    """

    def __init__(self, workers: int, address: str | None = None) -> None:
        super().__init__(workers)
        self.address = address
        self._client: Any = None
        self._cluster: Any = None

    def duplicate(self) -> "DaskTaskRunner":
        return type(self)(self.workers, self.address)

    def __enter__(self) -> "DaskTaskRunner":
        from distributed import Client, LocalCluster

        super().__enter__()
        logging.getLogger("distributed").setLevel(logging.WARNING)  # not its INFO start/stop chatter
        if self.address:
            self._client = Client(self.address)
        else:
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None

    def call(self, function: bytes, args: tuple, kwargs: dict, timeout: float | None) -> Any:
        from distributed import wait

        future = self._client.submit(run_pickled, function, args, kwargs, pure=False)
        try:
            wait([future], timeout=timeout)
        except TimeoutError:
            future.cancel()
            raise WorkerTimeout(f"did not finish within {timeout:g} s on the Dask cluster") from None
        return future.result()


def task_runner_for(runner: RunnerConfig) -> TaskRunner:
    """A fresh task runner for one flow run, as configured."""
    workers = runner.workers or default_workers()
    if runner.kind == "threads":
        # Processes are the default (issue 15): 1.7x one thread for parse+clean on 2 cores.
        # Parse and clean are CPU-bound: under the GIL more threads only fight each other and the loader.
        # Measured on 20k posts (2 cores): 1 worker 748 posts/s and a 4.9 s load step; 4 workers 598 and 8.4 s.
        return ThreadPoolTaskRunner(max_workers=runner.workers or 1)
    if runner.kind == "processes":
        return ProcessTaskRunner(workers)
    if importlib.util.find_spec("distributed") is None:
        raise ConfigError("runner.kind: dask needs dask.distributed: pip install 'newsetl[dask]'")
    return DaskTaskRunner(workers, runner.dask_address)


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
