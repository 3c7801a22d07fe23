"""A handler past its ``timeout`` is stopped, not left running in a thread nobody waits on (both engines)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from taskora import JobFailedError, Taskora


def test_a_busy_handler_past_its_timeout_is_interrupted(app: Taskora) -> None:
    spins, stopped = [0], threading.Event()

    def busy(_data: object) -> None:
        try:
            while True:  # pure Python, never looks at ctx.signal
                spins[0] += 1
        finally:
            stopped.set()

    task = app.task("busy", busy, timeout="200ms")
    app.start()
    with pytest.raises(JobFailedError, match="TimeoutError"):
        task.dispatch(None).result(timeout=10)
    assert stopped.wait(5), "the handler kept running after its timeout"


def test_a_handler_that_swallows_exceptions_is_interrupted_too(app: Taskora) -> None:
    stopped = threading.Event()

    def stubborn(_data: object) -> None:
        try:
            while True:
                try:
                    sum(range(1000))
                except Exception:  # swallows ordinary errors; the interrupt is not one
                    pass
        finally:
            stopped.set()

    task = app.task("stubborn", stubborn, timeout="200ms")
    app.start()
    with pytest.raises(JobFailedError, match="TimeoutError"):
        task.dispatch(None).result(timeout=10)
    assert stopped.wait(5)


def test_an_async_handler_past_its_timeout_is_cancelled(app: Taskora) -> None:
    cancelled = threading.Event()

    async def forever(_data: object) -> None:
        try:
            while True:
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = app.task("forever", forever, timeout="200ms")
    app.start()
    with pytest.raises(JobFailedError, match="TimeoutError"):
        task.dispatch(None).result(timeout=10)
    assert cancelled.wait(5)
