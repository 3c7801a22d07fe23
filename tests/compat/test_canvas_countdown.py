# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A group's or chord's ``countdown`` delays its tasks, as Celery passes a group's send options to each member
(Celery #7851, test_canvas.py's ``test_group_or_task_countdown_delays_header``): ``(group(a, b) | c)
.apply_async(countdown=N)`` runs the header tasks N seconds later, each with its ``request.eta``."""

from __future__ import annotations

import time

import pytest
from taskora.compat import chain, group

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")

COUNTDOWN = 1.0


@pytest.fixture
def tasks(make_celery):
    app = make_celery()

    @app.task(name="cd.eta", bind=True)
    def request_eta(self, *_):
        return self.request.eta

    @app.task(name="cd.identity")
    def identity(value):
        return value

    app.__taskora_app__.start(concurrency=2)
    return request_eta, identity


def test_a_chords_countdown_delays_its_header_tasks(tasks):
    request_eta, identity = tasks
    started = time.monotonic()
    result = (group(request_eta.s(), request_eta.s()) | identity.s()).apply_async(countdown=COUNTDOWN)
    etas = result.get(timeout=20)
    assert time.monotonic() - started >= COUNTDOWN * 0.9
    assert len(etas) == 2 and all(eta is not None for eta in etas)


def test_a_groups_countdown_delays_its_members_and_a_chain_members_first_task(tasks):
    request_eta, identity = tasks
    started = time.monotonic()
    result = group(request_eta.s(), chain(identity.si(5), identity.s())).apply_async(countdown=COUNTDOWN)
    eta, five = result.get(timeout=20)
    assert time.monotonic() - started >= COUNTDOWN * 0.9
    assert eta is not None and five == 5
