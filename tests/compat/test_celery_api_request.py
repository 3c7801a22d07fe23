# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""``self.request.time_limit``/``soft_time_limit`` as a worker sees them (Celery 5.7's request fields)."""

from __future__ import annotations

import pytest
from taskora.compat.app.task import Context

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


def test_request_time_limits_come_from_the_call_then_the_task(make_celery):
    app = make_celery()

    @app.task(bind=True, name="rq.plain")
    def plain(self):
        return [self.request.time_limit, self.request.soft_time_limit]

    @app.task(bind=True, name="rq.declared", time_limit=60, soft_time_limit=45)
    def declared(self):
        return [self.request.time_limit, self.request.soft_time_limit]

    app.__taskora_app__.start(concurrency=1)
    assert plain.apply_async(time_limit=30, soft_time_limit=20).get(timeout=10) == [30, 20]
    assert plain.apply_async().get(timeout=10) == [None, None]
    assert declared.apply_async().get(timeout=10) == [60, 45]
    assert declared.apply_async(time_limit=10, soft_time_limit=5).get(timeout=10) == [10, 5]


def test_context_time_limits_follow_timelimit_unless_set():
    request = Context(timelimit=(8, 4))
    assert (request.time_limit, request.soft_time_limit) == (8, 4)
    request.soft_time_limit = 2
    assert request.soft_time_limit == 2 and Context().time_limit is None
