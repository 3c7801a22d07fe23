"""A retry that switches between positional and keyword arguments keeps the values it does not replace
(Celery 5.7, celery#6494), on a real worker and eagerly."""

from __future__ import annotations

import pytest
from taskora.compat import Celery
from taskora.compat.app._retry_args import retry_arguments
from taskora.compat.contrib.testing.worker import start_worker


@pytest.fixture(params=["redis", "memory"])
def app(request):
    broker = request.getfixturevalue("redis_url") if request.param == "redis" else "memory://"
    app = Celery("switches", broker=broker)

    @app.task(bind=True, name="switches.to_args", max_retries=1)
    def to_args(self, foo, bar, label=None):
        if not self.request.retries:
            raise self.retry(args=(foo + 1, bar + 1), countdown=0)
        return {"foo": foo, "bar": bar, "label": label}

    @app.task(bind=True, name="switches.to_kwargs", max_retries=1)
    def to_kwargs(self, foo, bar):
        if not self.request.retries:
            raise self.retry(kwargs={"foo": foo + 1}, countdown=0)
        return {"foo": foo, "bar": bar}

    yield app
    app.close()


def test_a_worker_retries_with_switched_arguments(app):
    with start_worker(app, pool="threads", perform_ping_check=False):
        to_args = app.tasks["switches.to_args"].apply_async(kwargs={"foo": 1, "bar": 2, "label": "kept"})
        to_kwargs = app.tasks["switches.to_kwargs"].apply_async(args=(1, 2))
        assert to_args.get(timeout=10) == {"foo": 2, "bar": 3, "label": "kept"}
        assert to_kwargs.get(timeout=10) == {"foo": 2, "bar": 2}


def test_eager_retries_switch_the_same_way(app):
    assert app.tasks["switches.to_args"].apply(kwargs={"foo": 1, "bar": 2, "label": "x"}).get() == {
        "foo": 2, "bar": 3, "label": "x"}
    assert app.tasks["switches.to_kwargs"].apply(args=(1, 2)).get() == {"foo": 2, "bar": 2}


def test_arguments_that_do_not_switch_are_taken_as_given():
    def run(a, b=0, *rest, **extra):
        return None

    assert retry_arguments(run, [1], {"b": 2}, None, None) == ([1], {"b": 2})
    assert retry_arguments(run, [1], {"b": 2}, [5], {"c": 1}) == ([5], {"c": 1})
    assert retry_arguments(run, [], {"a": 1, "b": 2, "z": 3}, [7], None) == ([7], {"b": 2, "z": 3})
    assert retry_arguments(run, [1, 2, 3], {}, None, {"b": 9}) == ([1, 9, 3], {})
    assert retry_arguments(len, [1], {}, None, {"x": 1}) == ([1], {"x": 1})  # a name no parameter takes stays
