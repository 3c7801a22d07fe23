# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""``Task.replace``: alone, as a chain step, a group member and a chord body, on a real worker (both engines)."""

from __future__ import annotations

import pytest
from taskora.compat import chain, chord, group
from taskora.compat.exceptions import ImproperlyConfigured

from .celery_helpers import make_celery, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


class Boom(Exception):
    pass


@pytest.fixture
def tasks(make_celery):
    app = make_celery()
    calls = {"nesting": [], "callback": []}

    @app.task(name="rp.add")
    def add(x, y):
        return x + y

    @app.task(name="rp.identity")
    def identity(x):
        return x

    @app.task(name="rp.fail")
    def fail(*args):
        raise Boom("replacement failed")

    @app.task(bind=True, name="rp.add_replaced")
    def add_replaced(self, x, y):
        raise self.replace(add.s(x, y))

    @app.task(bind=True, name="rp.with_chain")
    def with_chain(self, x, y):
        raise self.replace(chain(add.s(x, y), identity.s()))

    @app.task(bind=True, name="rp.with_group")
    def with_group(self, x):
        raise self.replace(group(add.s(x, 1), add.s(x, 2)))

    @app.task(bind=True, name="rp.with_failure")
    def with_failure(self, *args):
        raise self.replace(fail.si())

    @app.task(bind=True, name="rp.nested")
    def nested(self, left):
        calls["nesting"].append(self.request.replaced_task_nesting)
        if left:
            raise self.replace(nested.s(left - 1))
        return "done"

    @app.task(bind=True, name="rp.sum_replaced")
    def sum_replaced(self, values):
        raise self.replace(identity.si(sum(values)))

    @app.task(name="rp.record")
    def record(value):
        calls["callback"].append(value)

    @app.task(bind=True, name="rp.empty")
    def empty(self):
        raise self.replace(chain())

    app.__taskora_app__.start(concurrency=2)
    return app, calls, locals()


def test_a_replaced_task_returns_the_replacements_value(tasks):
    app, _, t = tasks
    result = t["add_replaced"].delay(2, 3)
    assert result.get(timeout=15) == 5
    assert app.AsyncResult(result.id).state == "SUCCESS" and app.AsyncResult(result.id).result == 5


def test_replacement_by_a_chain_and_by_a_group(tasks):
    _, _, t = tasks
    assert t["with_chain"].delay(4, 5).get(timeout=15) == 9
    assert t["with_group"].delay(10).get(timeout=15) == [11, 12]


def test_a_replaced_chain_step_hands_its_value_to_the_next_step(tasks):
    _, _, t = tasks
    canvas = chain(t["identity"].s(1), t["add_replaced"].s(2), t["add"].s(10))
    assert canvas.apply_async().get(timeout=20) == 13
    assert chain(t["with_chain"].s(1, 1), t["add"].s(100)).apply_async().get(timeout=20) == 102


def test_replaced_group_member_and_chord_body(tasks):
    _, _, t = tasks
    assert group(t["add_replaced"].s(1, 1), t["add"].s(2, 2)).apply_async().get(timeout=20) == [2, 4]
    result = chord([t["add"].s(1, 1), t["add"].s(2, 2)], t["sum_replaced"].s()).apply_async()
    assert result.get(timeout=20) == 6


def test_a_failing_replacement_fails_the_task_and_its_chain(tasks):
    _, _, t = tasks
    with pytest.raises(Boom, match="replacement failed"):
        t["with_failure"].delay().get(timeout=15)
    with pytest.raises(Boom):
        chain(t["identity"].s(1), t["with_failure"].s(), t["add"].s(1)).apply_async().get(timeout=20)


def test_nesting_counts_replacements_and_callbacks_get_the_final_value(tasks):
    _, calls, t = tasks
    result = t["nested"].apply_async((2,), link=t["record"].s())
    assert result.get(timeout=20) == "done"
    assert calls["nesting"] == [0, 1, 2]
    wait_until(lambda: calls["callback"] == ["done"], 10, "the replaced task's callback with the final value")


def test_replacing_with_an_empty_chain_is_refused(tasks):
    _, _, t = tasks
    with pytest.raises(ImproperlyConfigured, match="empty chain"):
        t["empty"].delay().get(timeout=15)


def test_eager_replace_returns_the_replacements_value(make_celery):
    app = make_celery(task_always_eager=True)

    @app.task(name="rpe.add")
    def add(x, y):
        return x + y

    @app.task(bind=True, name="rpe.replaced")
    def replaced(self, x):
        return self.replace(add.s(x, 1))

    assert replaced.delay(41).get() == 42
