"""A job handed back without having run gives back its rate-limit turn, in the script that hands it back
(lua/lib/rate_refund.lua), on both engines: with a limit of N per window, N jobs handed back and run again all
run within the window."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from taskora import Taskora
from taskora.clock import VirtualClock
from taskora.rate_limits import set_rate_limit
from taskora.version_handoff import ParkedJobs, leave_for_newer_worker
from tests.waiting import wait_until
from tests.worker.test_worker_budget import one_reserved

N = 5  # jobs, and the limit: 5 starts per second (one every 200 ms)


def _claim(app: Taskora, clock: VirtualClock, parked: ParkedJobs | None = None) -> Any:
    """The next job as soon as the limiter lets it start (virtual time moves to its turn); with ``parked``, as
    a newer worker's slot claims (jobs parked for its version first)."""
    while True:
        token = uuid.uuid4().hex
        claimed = app.adapter.claim("api", token, 30_000) if parked is None else parked.claim(
            app.get_task("api"), token, 30_000)
        if claimed.job is not None or not claimed.next_due_ms:
            return claimed.job
        clock.advance((int(claimed.next_due_ms) - clock.now_ms()) / 1000)


def _limited(make_app: Callable[..., Taskora], **task: Any) -> tuple[Taskora, VirtualClock, Any]:
    clock = VirtualClock()
    app = make_app(clock=clock)
    limited = app.task("api", lambda n: n, rate_limit=f"{N}/s", **task)
    set_rate_limit(app, "api", limited.options.rate_limit)
    return app, clock, limited


def _all_run_within_one_window(app: Taskora, clock: VirtualClock, hand_back: Callable[[Any], None]) -> int:
    """Claim and hand back each of the N jobs, then run them all; the ms from the first claim to the last start."""
    start = clock.now_ms()
    for _ in range(N):
        hand_back(_claim(app, clock))
    parked = ParkedJobs(app.adapter)  # the newer worker: its maintenance sees the parked jobs, its slots claim
    parked.look([app.get_task("api")])
    for _ in range(N):
        assert _claim(app, clock, parked) is not None
    return clock.now_ms() - start


def test_jobs_parked_for_a_newer_worker_give_back_their_turns(make_app: Callable[..., Taskora]) -> None:
    app, clock, _ = _limited(make_app, version=2)
    old = make_app(clock=clock).register_task("api", None, version=1)  # the old worker's view of the task
    for n in range(N):
        app.dispatch("api", n)
    elapsed = _all_run_within_one_window(app, clock,
                                         lambda job: leave_for_newer_worker(app.adapter, old, job, 2))
    assert elapsed < 1000  # without the refunds: five turns spent on hand-backs, the last run at 1.8 s


@pytest.mark.parametrize("unstarted, most_ms", [(True, 999), (False, 1800)])
def test_a_job_handed_back_before_it_started_gives_back_its_turn(make_app: Callable[..., Taskora], unstarted: bool,
                                                                 most_ms: int) -> None:  # fmt: skip
    app, clock, limited = _limited(make_app)
    for n in range(N):
        limited.dispatch(n)
    elapsed = _all_run_within_one_window(
        app, clock, lambda job: app.adapter.nack("api", job.id, job.token, unstarted=unstarted))
    assert elapsed <= most_ms  # a job that did start (a cold stop's hand-back) keeps its turn spent
    if not unstarted:
        assert elapsed == most_ms


def test_a_reserved_job_handed_back_by_a_stop_gives_back_its_turn(app: Taskora) -> None:
    # Given a one-job budget held by a running job, and a job of a "1/h" task claimed (its turn taken), reserved
    with one_reserved(app, {"rate_limit": "1/h"}) as r:
        # When a warm stop hands the reserved job back (it never started)
        stopper = threading.Thread(target=lambda: r.worker.stop(timeout=10))
        stopper.start()
        try:
            wait_until(lambda: r.handle.state() == "waiting", 10, "b1 to be handed back")
            # Then its turn is free again: the next claim takes it at once, not in an hour
            claimed = app.adapter.claim("b", uuid.uuid4().hex, 30_000)
            assert claimed.job is not None and claimed.job.id == r.handle.id, claimed
        finally:
            r.release.set()
            stopper.join(10)
