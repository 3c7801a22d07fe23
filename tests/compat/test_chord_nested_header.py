# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A chord header member whose result is a list (a chain ending in a group, or in a chord with a group body) is ONE
entry of the body's list, as with Celery (test_canvas.py's ``test_nested_chord_group_chain_group_tail``): the
engine's fan-in would flatten its tasks' results into the header's."""

from __future__ import annotations

import pytest
from taskora.compat import chain, chord, group

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def tasks(make_celery):
    app = make_celery()

    @app.task(name="nh.identity")
    def identity(value):
        return value

    @app.task(name="nh.add")
    def add(x, y):
        return x + y

    app.__taskora_app__.start(concurrency=2)
    return identity, add


def test_a_chain_ending_in_a_group_is_one_list_in_the_chords_results(tasks):
    identity, _ = tasks
    sig = chord(group(chain(identity.s(42), group(identity.s(), identity.s()))), identity.s())
    assert sig.delay().get(timeout=20) == [[42, 42]]


def test_list_members_and_single_members_keep_their_places(tasks):
    identity, add = tasks
    header = [
        add.si(1, 1),
        chain(add.si(1, 0), group(add.s(1), add.s(2))),
        chain(add.si(0, 0), chord(group(add.s(5), add.s(6)), group(identity.s(), identity.s()))),
        chain(add.si(2, 2), group()),  # an empty tail group is skipped: one value
    ]
    result = chord(header, identity.s()).apply_async()
    assert result.get(timeout=20) == [2, [2, 3], [[5, 6], [5, 6]], 4]
