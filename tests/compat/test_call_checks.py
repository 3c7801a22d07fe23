# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Celery's ``typing``: a call whose arguments the task cannot take raises TypeError at the call, and
sends nothing (``Task.typing`` / ``app.strict_typing``, both True by default)."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [((1,), {}, "missing a required argument: 'y'"),
     ((1, 2, 3, 4), {}, "too many positional arguments"),
     ((1,), {"z": 3}, "missing a required argument: 'y'"),
     ((1, 2), {"w": 1}, "got an unexpected keyword argument 'w'"),
     ((1,), {"x": 1, "y": 2}, "multiple values for argument 'x'")],
)
def test_a_call_the_task_cannot_take_raises_type_error_and_sends_nothing(make_celery, args, kwargs, error) -> None:
    app = make_celery()

    @app.task
    def add(x, y, z=0):
        return x + y + z

    with pytest.raises(TypeError, match=rf"add\(\) {error}"):
        add.apply_async(args, kwargs)
    assert app.__taskora_app__.adapter.counts(add.name)["waiting"] == 0


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1, 2), {}), ((1, 2, 3), {}), ((1,), {"y": 2}), ((), {"x": 1, "y": 2, "z": 3})],
)
def test_calls_the_task_can_take_are_sent(make_celery, args, kwargs) -> None:
    app = make_celery()

    @app.task
    def add(x, y, z=0):
        return x + y + z

    add.apply_async(args, kwargs)
    assert app.__taskora_app__.adapter.counts(add.name)["waiting"] == 1


def test_keyword_arguments_may_be_any_mapping_and_nothing_else(make_celery) -> None:
    """The usual dict skips the Mapping check (µs on every publish); a read-only mapping still goes, a list of
    pairs still does not."""
    app = make_celery()

    @app.task
    def add(x, y, z=0):
        return x + y + z

    add.apply_async((1,), MappingProxyType({"y": 2}))
    assert app.__taskora_app__.adapter.counts(add.name)["waiting"] == 1
    with pytest.raises(TypeError, match="keyword arguments must be a mapping"):
        add.apply_async((1,), [("y", 2)])
    assert app.__taskora_app__.adapter.counts(add.name)["waiting"] == 1


def test_star_args_keyword_only_and_bound_tasks(make_celery) -> None:
    app = make_celery()

    @app.task
    def total(*numbers):
        return sum(numbers)

    @app.task
    def scaled(x, *, factor):
        return x * factor

    @app.task(bind=True)
    def whoami(self, x):
        return self.request.id

    total.delay()
    total.delay(1, 2, 3, 4, 5)
    # "keyword-only argument" from Python 3.12 on, as inspect.Signature.bind words it
    with pytest.raises(TypeError, match=r"scaled\(\) missing a required (keyword-only )?argument: 'factor'"):
        scaled.delay(2)
    scaled.delay(2, factor=3)
    whoami.delay(1)
    with pytest.raises(TypeError, match=r"whoami\(\) too many positional arguments"):
        whoami.delay(1, 2)


def test_typing_false_sends_whatever_it_is_given(make_celery) -> None:
    app = make_celery()

    @app.task(typing=False)
    def loose(x):
        return x

    loose.delay(1, 2, 3)
    assert app.__taskora_app__.adapter.counts(loose.name)["waiting"] == 1
