"""The ingest warms the worker processes' segmenter before its analytics step (newsetl/reporting/analytics.py)."""

from __future__ import annotations

import os
import sys
import time

import cloudpickle

from newsetl.reporting.analytics import warm_workers
from newsetl.reporting.parallel import POOL_MIN_ARTICLES
from newsetl.runtime import worker_pool


def _probe_both(pool) -> list[tuple[int, bool]]:
    """(pid, rjieba loaded) from each of the pool's 2 workers: each call holds its worker 0.3 s, so the second
    call goes to the other worker."""
    probe = cloudpickle.dumps(lambda: (time.sleep(0.3), os.getpid(), "rjieba" in sys.modules)[1:])
    calls = [pool.submit(worker_pool.run_pickled, probe, (), {}) for _ in range(2)]
    seen = [call.result(timeout=120) for call in calls]
    assert len({pid for pid, _ in seen}) == 2
    return seen


def test_warm_workers_loads_the_segmenter_in_each_worker() -> None:
    worker_pool.shutdown()
    pool = worker_pool.worker_pool(2, start=False)
    try:
        warm_workers(POOL_MIN_ARTICLES - 1)  # a refresh that small runs in the flow process: nothing to warm
        assert not pool.started
        assert [loaded for _, loaded in _probe_both(pool)] == [False, False]  # workers do not preload it
        warm_workers(POOL_MIN_ARTICLES)
        assert [loaded for _, loaded in _probe_both(pool)] == [True, True]
    finally:
        worker_pool.shutdown()
