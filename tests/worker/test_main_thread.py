"""MainThreadRunner in this (pytest's) process: calls handed over from a thread run on the main thread, where
the signal-based soft limit interrupts a blocking call once, and never lands after the call has ended."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from taskora.errors import SoftTimeLimitExceeded
from taskora.worker.main_thread import INTERRUPT_SIGNAL, ChildExiting, MainThreadRunner, SignalSoftLimit


@pytest.fixture
def runner() -> Iterator[MainThreadRunner]:
    previous = signal.getsignal(INTERRUPT_SIGNAL)
    runner = MainThreadRunner()
    runner.install()
    yield runner
    signal.signal(INTERRUPT_SIGNAL, previous)


def run_from_a_thread(runner: MainThreadRunner, fn: Callable[[], Any]) -> dict[str, Any]:
    """``runner.call(fn)`` from a slot-like thread while this (main) thread runs the runner; what it got."""
    got: dict[str, Any] = {}

    def slot() -> None:
        try:
            got["value"] = runner.call(fn)
        except BaseException as exc:
            got["error"] = exc
        finally:
            runner.close()

    threading.Thread(target=slot, daemon=True).start()
    runner.run()
    return got


def limited(runner: MainThreadRunner, seconds: float, body: Callable[[], Any]) -> Callable[[], Any]:
    def call() -> Any:
        guard = SignalSoftLimit(runner, seconds)
        try:
            return body()
        finally:
            guard.disarm()

    return call


def test_the_soft_limit_interrupts_a_blocking_recv_once(runner: MainThreadRunner) -> None:
    raised = []

    def body() -> float:
        began = time.monotonic()
        ours, theirs = socket.socketpair()
        try:
            ours.recv(1)
        except SoftTimeLimitExceeded as exc:
            raised.append(exc)
        finally:
            ours.close()
            theirs.close()
        time.sleep(0.4)  # well past the limit again: it is raised once only
        return time.monotonic() - began

    got = run_from_a_thread(runner, limited(runner, 0.2, body))
    assert len(raised) == 1 and 0.55 <= got["value"] < 1.5, got


def test_an_uncaught_soft_limit_reaches_the_caller(runner: MainThreadRunner) -> None:
    got = run_from_a_thread(runner, limited(runner, 0.1, lambda: time.sleep(30)))
    assert isinstance(got["error"], SoftTimeLimitExceeded)


def test_a_disarmed_limit_never_lands_later(runner: MainThreadRunner) -> None:
    def two_calls() -> Any:
        first = runner.call(limited(runner, 0.2, lambda: "quick"))
        return first, runner.call(lambda: time.sleep(0.4) or "slept")  # outlives the first one's limit

    assert run_from_a_thread(runner, two_calls) == {"value": ("quick", "slept")}


def test_a_call_after_close_is_refused(runner: MainThreadRunner) -> None:
    run_from_a_thread(runner, lambda: None)
    got: list[BaseException] = []
    slot = threading.Thread(target=lambda: _catch(got, lambda: runner.call(lambda: "late")))
    slot.start()
    slot.join(5)
    assert len(got) == 1 and isinstance(got[0], ChildExiting)


def _catch(into: list[BaseException], fn: Callable[[], Any]) -> None:
    try:
        fn()
    except BaseException as exc:
        into.append(exc)


def test_an_interrupt_when_no_call_runs_raises_nothing(runner: MainThreadRunner) -> None:
    assert runner.interrupt(SoftTimeLimitExceeded("late")) is False
    assert run_from_a_thread(runner, lambda: time.sleep(0.2) or "fine") == {"value": "fine"}


def handler_threads(runner: MainThreadRunner, calls: list[tuple[str, bool]]) -> list[bool]:
    """Run ``(task, soft_limited)`` handler calls one after another from a slot-like thread; for each, whether
    it ran on the main thread."""
    main = threading.get_ident()

    on_main: list[bool] = []

    def slot() -> None:
        try:
            for task, soft in calls:
                on_main.append(runner.run_handler(task, soft, lambda: threading.get_ident() == main))
        finally:
            runner.close()

    threading.Thread(target=slot, daemon=True).start()
    runner.run()
    return on_main


def test_a_task_whose_last_run_was_short_runs_its_next_job_on_its_slot_thread() -> None:
    runner = MainThreadRunner(short_run_s=3600)  # every run counts as short
    runner.install()
    try:
        on_main = handler_threads(runner, [("a", False), ("a", False), ("b", False), ("a", False)])
    finally:
        signal.signal(INTERRUPT_SIGNAL, signal.SIG_DFL)
    assert on_main == [True, False, True, False]  # a task's first run goes to the main thread


def test_a_soft_limited_job_runs_on_the_main_thread_however_short_its_task() -> None:
    runner = MainThreadRunner(short_run_s=3600)
    runner.install()
    try:
        assert handler_threads(runner, [("a", False), ("a", True), ("a", False)]) == [True, True, False]
    finally:
        signal.signal(INTERRUPT_SIGNAL, signal.SIG_DFL)


def test_a_task_whose_last_run_was_long_stays_on_the_main_thread() -> None:
    runner = MainThreadRunner(short_run_s=0)  # no run is short
    runner.install()
    try:
        assert handler_threads(runner, [("a", False), ("a", False)]) == [True, True]
    finally:
        signal.signal(INTERRUPT_SIGNAL, signal.SIG_DFL)


def test_a_sigusr1_terminate_with_no_call_on_the_main_thread_is_declined(runner: MainThreadRunner) -> None:
    assert runner.terminate(INTERRUPT_SIGNAL) is False  # terminate.Terminator raises it in the slot thread
