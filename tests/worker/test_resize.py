"""Live resizing of an in-process Worker (taskora/worker/resize.py) on both engines: slots of their own and a
fed group (feeder.py) grow at once, and shrink without stopping a running job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from taskora import Taskora
from taskora.errors import ConfigurationError
from taskora.worker.feeder import FEEDER_MIN_SLOTS
from taskora.worker.resize import slot_delta

from ..waiting import wait_until


class Gauge:
    """How many handlers run at once now, and at most since ``reset``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1

    def reset(self) -> None:
        with self.lock:
            self.peak = self.now


@pytest.mark.parametrize("slots", [2, FEEDER_MIN_SLOTS], ids=["own-slots", "fed"])
def test_grow_serves_at_once_and_shrink_waits_for_running_jobs(make_app: Callable[..., Taskora], slots: int) -> None:
    app = make_app()
    gauge, gate = Gauge(), threading.Event()

    def hold(n: int) -> int:
        gauge.enter()
        try:
            gate.wait(20) if n >= 0 else time.sleep(0.05)  # negative jobs: short work, to see overlap
            return n
        finally:
            gauge.leave()

    task = app.task("resize-hold", hold, concurrency=slots)
    app.start()
    worker = app._worker
    assert worker is not None
    # grow: every job of a burst as large as the grown pool runs at once
    assert worker.grow(3) == slots + 3
    busy = task.dispatch_many(list(range(slots + 3)))
    wait_until(lambda: gauge.now == slots + 3, what="every grown slot to run a job")
    # shrink while all are busy: no job is stopped; afterwards one slot thread is left
    assert worker.shrink(100) == 1
    gate.set()
    assert [h.result(timeout=20) for h in busy] == list(range(slots + 3))
    wait_until(lambda: sum(t.is_alive() for t in worker._slot_threads) == 1, what="the surplus slots to leave")
    gauge.reset()
    assert [h.result(timeout=20) for h in task.dispatch_many([-1, -2, -3, -4])] == [-1, -2, -3, -4]
    assert gauge.peak == 1


def test_a_resize_count_must_be_a_positive_whole_number() -> None:
    assert slot_delta("3", "pool_grow") == 3
    for bad in (0, -1, "x", 1.5, True, None):
        with pytest.raises(ConfigurationError, match="pool_grow: n must be a positive whole number"):
            slot_delta(bad, "pool_grow")


class SizedPool:
    """A pool that only has a size: what the autoscaler's decisions change."""

    def __init__(self, size: int) -> None:
        self.current = size

    def size(self) -> int:
        return self.current

    def grow(self, n: int) -> int:
        self.current += n
        return self.current

    def shrink(self, n: int) -> int:
        self.current -= n
        return self.current


def test_autoscaler_grows_at_once_within_max_and_shrinks_only_after_the_keepalive(app: Taskora) -> None:
    from taskora.worker.autoscale import Autoscaler

    pool = SizedPool(2)
    scaler = Autoscaler(app, pool, [], max_size=5, min_size=2, keepalive_s=30)  # type: ignore[arg-type]
    scaler.scale_once(demand=9, now=100.0)
    assert pool.size() == 5  # capped at MAX
    scaler.scale_once(demand=0, now=129.0)
    assert pool.size() == 5  # idle, but not for the keepalive yet
    scaler.scale_once(demand=3, now=131.0)
    assert pool.size() == 3  # 31 s since it was last fully needed: down to the demand
    scaler.scale_once(demand=0, now=140.0)
    assert pool.size() == 3  # the keepalive counts again from the last shrink
    scaler.scale_once(demand=0, now=162.0)
    assert pool.size() == 2  # never below MIN
    with pytest.raises(ConfigurationError, match="MIN <= MAX"):
        Autoscaler(app, pool, [], max_size=2, min_size=3)  # type: ignore[arg-type]
