"""A worker's stop wakes its own idle slots, on both engines, when other workers' idle slots wait on the same
queue. A wake on the task's marker goes to whichever claimers waited longest: another worker's, started first,
took them, and the stopping worker's slots waited out their whole block (``idle.MAX_BLOCK_S``, 5 s) before they
saw the stop (4 tests of test_version_handoff.py paid it in teardown). Its own wake key ends that,
and is gone once the worker has stopped (adapters/waiting.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from taskora import Taskora
from taskora.worker.feeder import FEEDER_MIN_SLOTS
from taskora.worker.idle import MAX_BLOCK_S
from taskora.worker.loop import Worker


@pytest.mark.parametrize("slots", [2, FEEDER_MIN_SLOTS], ids=["own-slots", "feeder"])
def test_a_stop_wakes_its_own_slots_before_other_workers_idle_ones(make_app: Callable[..., Taskora],
                                                                   slots: int) -> None:  # fmt: skip
    # Given workers whose idle slots (more than the second one's) block on the queue first, and a second worker
    first_app, second_app = make_app(), make_app()
    mail = first_app.task("mail", lambda data: data)
    others = [Worker(first_app, [mail], concurrency=FEEDER_MIN_SLOTS - 1) for _ in range(2)]
    for other in others:
        other.start()
    second = Worker(second_app, [second_app.task("mail", lambda data: data)], concurrency=slots)
    second.start()
    try:
        # When the second worker stops
        began = time.monotonic()
        assert second.stop(timeout=MAX_BLOCK_S + 1)
        # Then its slots saw the stop at once, not after their block, and the others still serve
        assert time.monotonic() - began < MAX_BLOCK_S / 2
        assert not second_app.adapter.client.exists(second_app.adapter.keys.own_wake("mail", second.wake_id))
        assert mail.dispatch({"to": "ann"}).result(timeout=10) == {"to": "ann"}
    finally:
        for other in others:
            other.stop(timeout=5)
