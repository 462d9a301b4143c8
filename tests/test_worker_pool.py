"""The process runner's worker pool: results, errors as raised, timeouts, dead workers, lean workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import psutil
import pytest
from prefect import flow, task

import worker_funcs
from newsetl.flows.runners import ProcessTaskRunner
from newsetl.runtime import worker_pool
from newsetl.runtime.worker_pool import WorkerTimeout, pickled, run_in_worker

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def test_an_arrow_result_comes_back_from_another_process() -> None:
    pid, table = run_in_worker(2, pickled(worker_funcs.arrow_rows), (50_000,), {})
    assert pid != os.getpid()
    assert table.num_rows == 50_000
    assert table.column("text")[49_999].as_py() == "row 49999"
    assert table.column("n").to_pylist()[:3] == [0, 1, 2]


def test_workers_import_neither_prefect_nor_duckdb() -> None:
    worker_pool.shutdown()  # fresh processes, forked from the preloaded forkserver
    loaded = run_in_worker(2, pickled(worker_funcs.modules), (), {})
    assert "newsetl.posts.pipeline" in loaded and "lxml.html" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("prefect", "duckdb", "pydantic")]


def test_workers_do_not_rerun_the_main_script(tmp_path: Path) -> None:
    """A worker started by a script (the `newsetl` console script) must not import that script's imports."""
    script = tmp_path / "main_script.py"
    script.write_text(
        "import sys\n"
        "sys.path[:0] = [%r, %r]\n"
        "import marker_module_for_test  # noqa: must stay in the parent\n"
        "from newsetl.runtime.worker_pool import pickled, run_in_worker\n"
        "import worker_funcs\n"
        "if __name__ == '__main__':\n"
        "    loaded = run_in_worker(1, pickled(worker_funcs.modules), (), {})\n"
        "    files = run_in_worker(1, pickled(worker_funcs.main_files), (), {})\n"
        "    print('marker_module_for_test' in loaded, str(__file__) in files)\n" % (str(ROOT), str(TESTS)))
    (tmp_path / "marker_module_for_test.py").write_text("")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_an_exception_in_the_worker_is_raised_as_it_was() -> None:
    with pytest.raises(ValueError, match="bad post"):
        run_in_worker(2, pickled(worker_funcs.fail), ("bad post",), {})
    assert run_in_worker(2, pickled(worker_funcs.pid), (), {}) != os.getpid()  # the pool is still fine


def test_a_call_past_its_timeout_stops_its_workers_and_the_next_call_gets_new_ones() -> None:
    stuck_pid = run_in_worker(2, pickled(worker_funcs.pid), (), {})
    old = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    with pytest.raises(WorkerTimeout, match="did not finish within 1 s"):
        run_in_worker(2, pickled(worker_funcs.sleep), (60,), {}, timeout=1)
    assert time.monotonic() - started < 10
    fresh = run_in_worker(2, pickled(worker_funcs.pid), (), {})
    assert fresh != stuck_pid and fresh not in old
    psutil.wait_procs([psutil.Process(stuck_pid)] if psutil.pid_exists(stuck_pid) else [], timeout=5)
    assert not psutil.pid_exists(stuck_pid) or psutil.Process(stuck_pid).status() == psutil.STATUS_ZOMBIE


def test_a_dead_worker_breaks_the_call_and_the_next_call_recovers() -> None:
    with pytest.raises(BrokenProcessPool):
        run_in_worker(2, pickled(worker_funcs.die), (3,), {})
    assert run_in_worker(2, pickled(worker_funcs.pid), (), {}) != os.getpid()


def _run_on_processes(body, **task_options):
    work = task(body, name=body.__name__, **task_options)

    @flow(name="process-runner-test", task_runner=ProcessTaskRunner(2))
    def run(args: list) -> tuple[str, str, int | None]:
        future = work.submit(*args)
        future.wait()
        state = future.state
        return state.type.value, state.message or "", state.result() if state.is_completed() else None

    return run


def test_process_runner_retries_a_failing_task_in_the_workers(tmp_path: Path) -> None:
    state, _, pid = _run_on_processes(worker_funcs.flaky, retries=2, retry_delay_seconds=0)([str(tmp_path / "n"), 2])
    assert state == "COMPLETED" and pid != os.getpid()
    assert (tmp_path / "n").read_text() == "3"


def test_process_runner_retries_a_task_whose_worker_died(tmp_path: Path) -> None:
    state, _, pid = _run_on_processes(worker_funcs.dies_once, retries=1, retry_delay_seconds=0)([str(tmp_path / "m")])
    assert state == "COMPLETED" and pid != os.getpid()
    assert (tmp_path / "m").read_text() == "died"


def test_process_runner_stops_a_task_past_its_timeout() -> None:
    started = time.monotonic()
    state, message, _ = _run_on_processes(worker_funcs.sleep, timeout_seconds=2)([60])
    assert time.monotonic() - started < 20
    assert state == "FAILED" and "did not finish within 2 s" in message
