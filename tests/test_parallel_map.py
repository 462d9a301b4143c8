"""ordered_map: chunks on the worker pool, results in order; the flow process takes chunks itself when the
workers keep it waiting past its patience; a dead worker's chunk is computed here."""

from __future__ import annotations

import os
from pathlib import Path

import worker_funcs
from newsetl.reporting.parallel import ordered_map
from newsetl.runtime.worker_pool import worker_pool


def test_results_in_order_and_this_process_helps_while_workers_are_busy() -> None:
    pool = worker_pool(2)
    results = list(ordered_map(worker_funcs.sleep, [0.4] * 8, pool, patience=0.1))
    assert [chunk for chunk, _ in results] == [0.4] * 8
    pids = [pid for _, pid in results]
    assert os.getpid() in pids  # took chunks itself instead of waiting for the workers
    assert len(set(pids) - {os.getpid()}) >= 1  # and the workers took the others
    assert list(ordered_map(pow, range(30), pool, 2)) == [(i, i * i) for i in range(30)]
    assert list(ordered_map(pow, range(5), None, 3)) == [(i, i ** 3) for i in range(5)]


def test_this_process_waits_for_workers_within_its_patience() -> None:
    pool = worker_pool(2)
    pool.submit(int).result()
    results = list(ordered_map(worker_funcs.sleep, [0.2] * 6, pool, patience=5.0))
    assert [chunk for chunk, _ in results] == [0.2] * 6
    assert os.getpid() not in [pid for _, pid in results]  # it writes the results: it does not take chunks itself


def test_a_dead_worker_s_chunk_is_computed_here(tmp_path: Path) -> None:
    marker = str(tmp_path / "died")
    results = list(ordered_map(worker_funcs.dies_once, [marker], worker_pool(2)))
    assert results == [(marker, os.getpid())]  # the worker died on it; this process did it again
    assert list(ordered_map(pow, range(4), worker_pool(2), 2)) == [(i, i * i) for i in range(4)]  # a fresh pool
