# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Celery's ``acks_late`` + ``reject_on_worker_lost`` promise redelivery however often the worker is lost:
such a task's engine task has no ``stall.max_lost``; any other keeps the native bound."""

from __future__ import annotations

import pytest

from taskora.options import StallPolicy

from ..compat.celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


def _max_lost(app, name):
    return app.__taskora_app__.tasks[name].options.stall.max_lost


def test_acks_late_with_reject_on_worker_lost_redelivers_until_done(make_celery):
    app = make_celery(task_acks_late=True, broker_transport_options={"visibility_timeout": 60})

    @app.task(reject_on_worker_lost=True)
    def durable():
        return 1

    @app.task
    def late_only():
        return 2

    assert _max_lost(app, durable.name) is None
    assert app.__taskora_app__.tasks[durable.name].options.stall.interval == 60.0
    assert _max_lost(app, late_only.name) == StallPolicy().max_lost == 20


def test_without_a_visibility_timeout_too(make_celery):
    app = make_celery()

    @app.task(acks_late=True, reject_on_worker_lost=True)
    def durable():
        return 1

    assert _max_lost(app, durable.name) is None
