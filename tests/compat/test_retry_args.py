# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""``self.retry(args=..., kwargs=...)`` through a real worker: the next attempt runs with the new call."""

from __future__ import annotations

import pytest
from taskora.compat import states
from taskora.compat.exceptions import MaxRetriesExceededError

from .celery_helpers import make_celery, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


def start(app):
    return app.__taskora_app__.start(concurrency=2)


def test_retry_with_new_args_and_kwargs_reaches_the_next_attempt(make_celery):
    app = make_celery()
    calls = []

    @app.task(bind=True, max_retries=3)
    def page(self, cursor, size=10):
        calls.append((self.request.retries, cursor, size, list(self.request.args), dict(self.request.kwargs)))
        if cursor < 2:
            raise self.retry(args=(cursor + 1,), kwargs={"size": size * 2}, countdown=0)
        return [cursor, size]

    start(app)
    result = page.delay(0)
    # Each attempt saw the arguments the previous one asked for, in request.args/kwargs too
    assert result.get(timeout=10) == [2, 40]
    assert calls == [(0, 0, 10, [0], {}), (1, 1, 20, [1], {"size": 20}), (2, 2, 40, [2], {"size": 40})]
    # The stored call is the one that ran last (what AsyncResult.args reports)
    assert result.args == [2] and result.kwargs == {"size": 40} and result.retries == 2


def test_retry_without_args_keeps_the_original_call(make_celery):
    app = make_celery()
    seen = []

    @app.task(bind=True, max_retries=2, default_retry_delay=0)
    def again(self, x, *, label):
        seen.append((x, label))
        if self.request.retries < 1:
            raise self.retry(exc=ValueError("once"))
        return x

    start(app)
    assert again.apply_async((7,), {"label": "a"}).get(timeout=10) == 7
    assert seen == [(7, "a"), (7, "a")]


def test_retry_state_shows_the_new_call_and_exhaustion_reports_it(make_celery):
    app = make_celery()

    @app.task(bind=True, max_retries=1)
    def step(self, n):
        raise self.retry(args=(n + 100,), countdown=0.4)

    start(app)
    result = step.delay(1)
    wait_until(lambda: result.state == states.RETRY)
    assert result.args == [101]  # the waiting attempt's input was replaced atomically with the retry
    with pytest.raises(MaxRetriesExceededError, match=r"args:\(201,\)"):
        result.get(timeout=10)


def test_retry_with_arguments_the_serializer_cannot_encode_fails_the_task(make_celery):
    app = make_celery()

    @app.task(bind=True, max_retries=3)
    def bad(self):
        raise self.retry(args=(object(),), countdown=0)

    start(app)
    result = bad.delay()
    with pytest.raises(Exception, match="object"):
        result.get(timeout=10)
    assert result.state == states.FAILURE and result.retries == 0
