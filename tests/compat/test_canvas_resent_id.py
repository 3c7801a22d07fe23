# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A task id sent again runs again, as Celery delivers any message again (test_canvas.py's ``mutable_errback``
tests: one frozen signature is a chord's header member, then another chord's body). On a real worker."""

from __future__ import annotations

import queue

import pytest
from taskora.compat import chord, group
from taskora.compat.result import AsyncResult

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


def test_get_waits_for_the_new_run_when_the_id_is_sent_again_between_its_wait_and_its_read(running, monkeypatch):
    # the test_mutable_errback_* flake: get() on the id saw the old run end, then read the new run's unfinished job
    # (None, PENDING); the re-send is made to land in that window here, so the race is not left to chance
    fail, _, _, _ = running
    task_id = fail.si("first").freeze().id
    with pytest.raises(KeyError):
        group([fail.si("first").set(task_id=task_id)]).apply_async().get(timeout=20)
    real_wait = AsyncResult._wait_until_final
    resent = []

    def wait_then_resend(self, *args):
        handle = real_wait(self, *args)
        if not resent:  # the new run is delayed: unfinished when get() reads
            resent.append(group([fail.si("second").set(task_id=task_id, countdown=0.3)]).apply_async())
        return handle

    monkeypatch.setattr(AsyncResult, "_wait_until_final", wait_then_resend)
    result = AsyncResult(task_id, app=fail.app)
    with pytest.raises(KeyError):
        result.get(timeout=20)
    assert resent and result.state == "FAILURE" and result.info.args == ("expected",)
