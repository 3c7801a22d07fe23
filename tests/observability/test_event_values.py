"""Event listeners get the values a producer sees, on both engines: a completed event's ``result`` is what
``handle.result()`` returns (the output model instance), with the stored text on ``raw_result``; a failed
event keeps the stored message on ``error`` and carries the JobFailedError ``handle.result()`` raises."""

from __future__ import annotations

import json
import queue
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from taskora import JobFailedError, Taskora
from taskora.events import Event


class Total(pydantic.BaseModel):
    amount: int
    currency: str


def _next(events: queue.Queue[tuple[str, Event]]) -> tuple[str, Event]:
    return events.get(timeout=10)


def test_a_completed_listener_gets_the_result_the_producer_gets(make_app: Callable[..., Taskora]) -> None:
    app = make_app()
    invoice = app.task("invoice", lambda n: Total(amount=n * 10, currency="EUR"), output=Total)
    events: queue.Queue[tuple[str, Event]] = queue.Queue()
    invoice.on("completed", lambda e: events.put(("task", e)))
    app.on("task:completed", lambda e: events.put(("app", e)))
    app.start()

    handle = invoice.dispatch(4)
    assert handle.result(timeout=10) == Total(amount=40, currency="EUR")
    seen = dict([_next(events), _next(events)])
    for event in seen.values():
        assert event.result == Total(amount=40, currency="EUR") and isinstance(event.result, Total)
        assert json.loads(event.raw_result or "") == {"amount": 40, "currency": "EUR"}  # as stored


def test_a_failed_listener_gets_the_error_the_producer_gets(make_app: Callable[..., Taskora]) -> None:
    app = make_app()

    def charge(n: int) -> None:
        raise ValueError(f"card declined for {n}")

    task = app.task("charge", charge)
    events: queue.Queue[tuple[str, Event]] = queue.Queue()
    task.on("failed", lambda e: events.put(("task", e)))
    app.on("task:failed", lambda e: events.put(("app", e)))
    app.start()

    handle = task.dispatch(7)
    with pytest.raises(JobFailedError) as raised:
        handle.result(timeout=10)
    seen = dict([_next(events), _next(events)])
    for event in seen.values():
        assert event.error == "card declined for 7"  # the stored message, as TypeScript listeners get it
        failure: Any = event.exception
        assert isinstance(failure, JobFailedError)
        assert (str(failure), failure.error_type, failure.job_id) == (str(raised.value), "ValueError", handle.id)
