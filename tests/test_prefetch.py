"""newsetl/runtime/prefetch.py: items in order from a thread, at most `ahead` ready, errors raised in the consumer."""

from __future__ import annotations

import threading
import time

import pytest

from newsetl.runtime.prefetch import Prefetch


def test_items_come_in_order_and_the_source_runs_in_another_thread():
    threads = []

    def source():
        for i in range(50):
            threads.append(threading.current_thread())
            yield i

    assert list(Prefetch(source(), ahead=3)) == list(range(50))
    assert set(threads) != {threading.current_thread()} and len(set(threads)) == 1


def test_at_most_ahead_items_are_taken_from_the_source_before_the_consumer_asks():
    taken = []

    def source():
        for i in range(100):
            taken.append(i)
            yield i

    ahead = Prefetch(source(), ahead=2)
    time.sleep(0.3)
    assert len(taken) == 3  # 2 in the queue + 1 waiting to be put
    assert next(ahead) == 0
    time.sleep(0.3)
    assert len(taken) == 4
    ahead.close()
    assert len(taken) == 4  # closed: nothing more is read


def test_a_source_error_is_raised_where_the_items_end_and_counts_are_final_then():
    state = {"n": 0}

    def source():
        for i in range(3):
            state["n"] += 1
            yield i
        raise OSError("disk gone")

    ahead = Prefetch(source(), ahead=1)
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(OSError, match="disk gone"):
        next(ahead)
    assert state["n"] == 3
    with pytest.raises(StopIteration):
        next(ahead)


def test_close_stops_a_thread_blocked_on_a_full_queue():
    ahead = Prefetch(iter(range(10**9)), ahead=1)
    time.sleep(0.05)
    started = time.perf_counter()
    ahead.close()
    assert time.perf_counter() - started < 1
    assert not ahead._thread.is_alive()
    assert list(ahead) == []
