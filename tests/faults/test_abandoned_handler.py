"""A handler abandoned past its hard time limit or timeout (threads pool) keeps its place in the running budget
until it really ends (taskora/worker/abandoned.py), in process on both engines."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from taskora import JobFailedError, Taskora
from taskora.worker.limits import TimeLimitMiddleware
from taskora.worker.loop import Worker
from tests.waiting import wait_until


def _ignores_interruption(release: threading.Event, ended: list[float]) -> Any:
    """A handler that runs until ``release``, swallowing every exception an interrupt raises in it."""

    def handler(_: Any) -> str:
        while not release.is_set():
            try:
                release.wait(0.05)
            except BaseException:  # noqa: S110 - the point: it ignores interrupts
                pass
        ended.append(time.monotonic())
        return "too late"

    return handler


@pytest.mark.parametrize("limit, error", [({"time_limit": 0.3}, "TimeLimitExceeded"),
                                          ({"timeout": 0.3}, "TimeoutError")])
def test_an_abandoned_handler_holds_back_the_next_job_of_a_budget_of_one(
        app: Taskora, limit: dict[str, Any], error: str, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    # Given a worker that runs one handler at a time, and a handler that outlives its limit, ignoring interrupts
    release, hog_ended, ran = threading.Event(), [], []
    extra = {"allowed_extra": ("time_limit",)} if "time_limit" in limit else {}
    hog = app.register_task("hog", _ignores_interruption(release, hog_ended), stall={"interval": 0.6},
                            **extra, **limit)
    b = app.register_task("b", lambda data: ran.append(time.monotonic()) or data, stall={"interval": 0.6})
    app.middleware.insert(0, TimeLimitMiddleware(app))
    worker = Worker(app, [hog, b], concurrency=1, max_running=1)
    caplog.set_level("WARNING", logger="taskora.worker")
    worker.start()
    try:
        # When its job ends failed at its limit (never left active)
        handle = hog.dispatch(None)
        with pytest.raises(JobFailedError, match=error):
            handle.result(timeout=10)
        assert handle.state() == "failed"
        # Then the next job waits, reserved, while the abandoned handler runs on
        waiting = b.dispatch("b1")
        wait_until(lambda: _reserved_here(worker, waiting.id), 10, "b1 to wait for the budget")
        threading.Event().wait(1.0)  # time itself: b1 must not start meanwhile
        assert ran == [] and _reserved_here(worker, waiting.id)
        # and runs once the abandoned handler really ended
        release.set()
        assert waiting.result(timeout=10) == "b1"
        assert ran[0] >= hog_ended[0] and handle.state() == "failed"
        assert worker.budget is not None
        wait_until(lambda: worker.budget.running == 0, 5, "every permit back")  # type: ignore[union-attr]

        def logged() -> list[str]:
            return [r.getMessage() for r in caplog.records if handle.id in r.getMessage()]

        assert any("keeps its place in the running budget until it ends" in m for m in logged()), logged()
        # said just after the permit is back, by the thread that gave it back: it may come a moment later
        wait_until(lambda: any("its place in the running budget is free" in m for m in logged()), 5, "the log")
    finally:
        release.set()
        worker.stop(timeout=10)


def _reserved_here(worker: Worker, job_id: str) -> bool:
    with worker.held.lock:
        return job_id in worker.held.reserved
