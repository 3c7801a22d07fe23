"""Periodic (worker/threads.py): the thread behind the autoscaler, the look for unknown task names and the
served-task beat keeps stepping through a lost connection and through a failed step, and stops when told."""

from __future__ import annotations

import logging
import threading

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from taskora.worker.threads import Periodic


def test_a_lost_connection_and_a_failed_step_are_logged_and_the_steps_go_on(caplog: pytest.LogCaptureFixture) -> None:
    outcomes: list[BaseException | None] = [RedisConnectionError("Redis went away"), RuntimeError("a bug"), None]
    done = threading.Event()

    def step() -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        done.set()

    periodic = Periodic("test-periodic", step, 0.01, what="testing")
    with caplog.at_level(logging.DEBUG, logger="taskora.worker"):
        periodic.start()
        assert done.wait(5), "the third step never ran: an error stopped the thread"
        periodic.stop()
    assert not periodic._thread.is_alive()
    lost, failed = [r for r in caplog.records if r.name == "taskora.worker"][:2]
    assert (lost.levelno, lost.getMessage()) == (logging.DEBUG, "testing failed, tried again in 0.0s: Redis went away")
    assert failed.levelno == logging.ERROR and failed.exc_info is not None and "a bug" in str(failed.exc_info[1])
