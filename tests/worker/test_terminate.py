"""Terminate on the native engine, in-process (threads): ``adapter.cancel(..., terminate="SIGTERM")`` ends the job
cancelled at once and interrupts its handler; an ``async def`` handler's coroutine is cancelled too."""

from __future__ import annotations

import asyncio
import time

import pytest

from taskora.worker.loop import Worker
from taskora.worker.terminate import Terminated, on_terminated, signal_number
from tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("adapter_kind")


def _run_and_terminate(app, task, seen):
    worker = Worker(app, [task])
    worker.start()
    try:
        handle = task.dispatch(1)
        wait_until(lambda: "started" in seen, 10, "the handler to start")
        assert app.adapter.cancel(task.name, handle.id, "terminated", terminate="SIGTERM") == "terminated"
        assert handle.state() == "cancelled"  # at once, before the handler stopped
        wait_until(lambda: "ended" in seen, 5, "the handler to be interrupted")
        assert handle.state() == "cancelled"
    finally:
        worker.stop(5)
    return seen["ended"]


def test_a_terminated_sync_handler_gets_terminated_raised(make_app):
    app = make_app()
    seen: dict[str, object] = {}

    def handler(data):
        seen["started"] = True
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                time.sleep(0.01)
        except BaseException as exc:
            seen["ended"] = type(exc)
            raise
        seen["ended"] = "finished"

    task = app.task("long-sync", handler)
    assert _run_and_terminate(app, task, seen) is Terminated


def test_a_terminated_async_handler_is_cancelled(make_app):
    app = make_app()
    seen: dict[str, object] = {}

    async def handler(data):
        seen["started"] = True
        try:
            await asyncio.sleep(30)
        except BaseException as exc:
            seen["ended"] = type(exc)
            raise
        seen["ended"] = "finished"

    task = app.task("long-async", handler)
    assert _run_and_terminate(app, task, seen) is asyncio.CancelledError


def test_a_plain_cancel_does_not_interrupt(make_app):
    app = make_app()
    seen: dict[str, object] = {}

    def handler(data, ctx):
        seen["started"] = True
        ctx.signal.wait(10)
        seen["ended"] = "noticed the signal"
        return "cooperative"

    task = app.task("cooperative", handler)
    worker = Worker(app, [task])
    worker.start()
    try:
        handle = task.dispatch(1)
        wait_until(lambda: "started" in seen, 10, "the handler to start")
        assert handle.cancel("revoked") == "flagged"
        wait_until(lambda: handle.state() == "cancelled", 5, "the cancel to be recorded")
        assert seen["ended"] == "noticed the signal"
    finally:
        worker.stop(5)


@pytest.mark.parametrize(("given", "number"), [("SIGTERM", 15), ("KILL", 9), (9, 9), ("15", 15), ("sigint", 2)])
def test_signal_names_as_celery_accepts_them(given, number):
    assert signal_number(given) == number


def test_an_unknown_signal_is_refused_naming_it():
    with pytest.raises(ValueError, match="unknown signal 'SIGNOPE'"):
        signal_number("SIGNOPE")


def test_a_terminate_heard_between_claim_and_start_is_told_and_the_handler_never_starts(make_app):
    # The cancel's message can come after the job is held but before its handler is tracked, when no abort
    # listener is there to hear it. It used to be lost: the handler then ran to its end, and nobody was told.
    app = make_app()
    ran: list[int] = []
    told: list[tuple[str, int]] = []
    task = app.task("held-then-terminated", lambda data: ran.append(data))
    worker = Worker(app, [task])

    class TerminateBeforeStart:
        """A job hook: the job is held and not started; it is terminated, and the hook waits until that is heard."""

        def job_started(self, runtime):
            assert app.adapter.cancel(task.name, runtime.id, "terminated", terminate="SIGTERM") == "terminated"
            assert runtime.signal.wait(10), "the worker heard the cancel"

        def job_finished(self, runtime, outcome):
            pass

    worker.job_hooks.append(TerminateBeforeStart())
    stop_telling = on_terminated(lambda runtime, signum: told.append((runtime.id, signum)))
    worker.start()
    try:
        handle = task.dispatch(1)
        wait_until(lambda: told, 10, "the terminate to be told")
        assert told == [(handle.id, signal_number("SIGTERM"))]
        assert handle.state() == "cancelled"
    finally:
        worker.stop(5)
        stop_telling()
    assert ran == []
