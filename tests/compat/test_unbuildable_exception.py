"""An exception whose class cannot be rebuilt from its stored args comes back as Celery's stand-in: an
``Exception`` naming the class and the args (Celery's ``exception_to_python``), never a bare message."""

from __future__ import annotations

import pytest
from taskora.compat import Celery, states
from taskora.compat.contrib.testing.worker import start_worker


class NeedsTwo(Exception):
    """Built with two arguments, stored with one (``Exception.args`` keeps only what ``super()`` got)."""

    def __init__(self, foo, bar=None):
        if bar is None:
            raise TypeError("bar must be provided")
        super().__init__(foo)
        self.bar = bar


@pytest.fixture(params=["redis", "memory"])
def app(request):
    broker = request.getfixturevalue("redis_url") if request.param == "redis" else "memory://"
    app = Celery("unbuildable", broker=broker)

    @app.task(name="unbuildable.fail")
    def fail(foo, bar):
        raise NeedsTwo(foo, bar)

    yield app
    app.close()


def test_a_failure_that_cannot_be_rebuilt_names_its_class_and_args(app):
    with start_worker(app, pool="threads", perform_ping_check=False):
        result = app.tasks["unbuildable.fail"].delay("foo", "bar")
        with pytest.raises(Exception) as raised:
            result.get(timeout=10)
    assert type(raised.value) is Exception
    assert "NeedsTwo" in str(raised.value) and "foo" in str(raised.value)
    assert result.status == states.FAILURE
