# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A chain step that is a group of one task is that task, as Celery's ``maybe_unroll_group`` sends it (test_canvas.py's
``test_all_tasks_of_canvas_are_stamped``: ``chain(group(add.s(0, 0)), add.s(-1))`` gives -1, not ``[0] + -1``)."""

from __future__ import annotations

import pytest
from taskora.compat import chain, chord, group

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def add(make_celery):
    app = make_celery()

    @app.task(name="sg.add")
    def add(x, y):
        return x + y

    @app.task(name="sg.xsum")
    def xsum(values):
        return sum(values)

    app.__taskora_app__.start(concurrency=2)
    return add


def test_a_chain_starting_with_a_group_of_one_passes_its_value_on(add):
    result = chain(group(add.s(0, 0)), add.s(-1)).apply_async()
    assert result.get(timeout=20) == -1


def test_a_group_of_one_inside_a_chain_that_is_itself_a_member_or_a_body(add):
    xsum = add.app.tasks["sg.xsum"]
    in_a_group = group(chain(add.si(1, 1), group(add.s(10)), add.s(100)), add.si(0, 0)).apply_async()
    assert in_a_group.get(timeout=20) == [112, 0]
    body = chain(xsum.s(), group(add.s(1)), add.s(2))
    assert chord([add.si(1, 1), add.si(2, 2)], body).apply_async().get(timeout=20) == 9
