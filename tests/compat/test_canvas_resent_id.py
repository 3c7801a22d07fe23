# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A task id sent again runs again, as Celery delivers any message again (test_canvas.py's ``mutable_errback``
tests: one frozen signature is a chord's header member, then another chord's body). On a real worker."""

from __future__ import annotations

import queue

import pytest
from taskora.compat import chord, group

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def running(make_celery):
    """An app with ``fail``, ``identity`` and ``record`` (an old-style errback: it gets the failed task's id)."""
    app = make_celery()
    seen: queue.Queue[str] = queue.Queue()

    @app.task(name="rs.fail")
    def fail(*args):
        raise KeyError("expected")

    @app.task(name="rs.identity")
    def identity(x):
        return x

    @app.task(name="rs.record")
    def record(request_id):
        seen.put(request_id)

    app.__taskora_app__.start(concurrency=2)
    return fail, identity, record, seen


def test_a_frozen_header_member_sent_again_as_another_chords_body_runs_and_calls_its_errback(running):
    fail, identity, record, seen = running
    failing = fail.s()
    failing_id = failing.freeze().id
    first = chord((group(identity.si(42), failing),), identity.s())
    first.link_error(record.s())
    body_id = first.body.freeze().id
    with pytest.raises(KeyError):
        first.delay().get(timeout=20)
    assert seen.get(timeout=20) == body_id

    second = chord((identity.si(42),), group(identity.si(42), failing))
    second.link_error(record.s())
    with pytest.raises(KeyError):
        second.delay().get(timeout=20)
    assert seen.get(timeout=20) == failing_id  # the same id ran again, its errback with it


def test_a_frozen_chord_body_sent_again_runs_again(running):
    _, identity, record, seen = running
    body = record.s()
    body_id = body.freeze().id
    for value in (1, 2):
        result = chord((identity.si(value),), body).delay()
        assert result.id == body_id
        assert seen.get(timeout=20) == [value]  # the body ran again, under the same id
        result.get(timeout=20)  # ended: a run still going when the id is sent again would drop the resend
