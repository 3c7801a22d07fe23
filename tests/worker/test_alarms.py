"""The process's alarm thread (taskora/worker/alarms.py), which soft time limits arm instead of a timer thread
per job."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from taskora.worker import alarms


def test_an_alarm_calls_its_function_when_due() -> None:
    rang = threading.Event()
    alarms.set_alarm(0.02, rang.set)
    assert rang.wait(5)


def test_alarms_ring_in_the_order_they_fall_due_not_the_order_they_were_set() -> None:
    order: list[str] = []
    last = threading.Event()
    alarms.set_alarm(0.15, lambda: (order.append("later"), last.set()))
    alarms.set_alarm(0.05, lambda: order.append("sooner"))  # due before every other: wakes the alarm thread
    assert last.wait(5)
    assert order == ["sooner", "later"]


def test_a_cancelled_alarm_never_rings() -> None:
    rang: list[str] = []
    after = threading.Event()
    alarms.set_alarm(0.03, lambda: rang.append("cancelled one")).cancel()
    alarms.set_alarm(0.06, after.set)  # falls due after the cancelled one would have
    assert after.wait(5)
    assert rang == []


def test_a_function_that_raises_is_logged_and_the_others_still_ring(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("alarm went wrong")

    after = threading.Event()
    with caplog.at_level(logging.ERROR, logger="taskora.worker"):
        alarms.set_alarm(0.01, broken)
        alarms.set_alarm(0.03, after.set)
        assert after.wait(5)
    assert "alarm went wrong" in caplog.text


def test_cancelled_alarms_do_not_pile_up_under_a_long_limit() -> None:
    """A stream of short jobs under a soft limit of minutes arms and cancels an alarm per job: the heap keeps
    what is still armed, not every alarm ever set."""
    held = [alarms.set_alarm(600, lambda: None) for _ in range(10)]
    for _ in range(10_000):
        alarms.set_alarm(600, lambda: None).cancel()
    assert len(alarms._ALARMS._heap) <= 2 * (alarms.COMPACT_MIN + len(held))
    for alarm in held:
        alarm.cancel()


def test_a_forked_child_rings_its_own_alarms() -> None:
    """A prefork child has none of its parent's threads, so it needs an alarm thread of its own."""
    alarms.set_alarm(600, lambda: None).cancel()  # the parent's alarm thread is running now
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 when its alarm rang
        rang = threading.Event()
        alarms.set_alarm(0.01, rang.set)
        os._exit(0 if rang.wait(5) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
