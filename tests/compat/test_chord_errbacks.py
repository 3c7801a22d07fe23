# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Which errbacks a failing chord header runs, as Celery 5.7 runs them (test_canvas.py's header-errback tests), on a
real worker: the body's (an immutable body too), the header tasks' with ``task_allow_error_cb_on_chord_header``, a
nested chord's body, a chain body's, and not those of a chord a failed body was meant to start."""

from __future__ import annotations

import queue

import pytest
from taskora.compat import chain, chord, group
from taskora.compat.exceptions import ChordError

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def running(make_celery):
    """An app with ``fail``, ``identity``, ``tsum`` and ``echo`` (puts its message on ``seen``)."""
    app = make_celery()
    seen: queue.Queue[str] = queue.Queue()

    @app.task(name="ce.fail")
    def fail(*args):
        raise KeyError("expected")

    @app.task(name="ce.identity")
    def identity(x):
        return x

    @app.task(name="ce.tsum")
    def tsum(values):
        return sum(values)

    @app.task(name="ce.echo")
    def echo(message):
        seen.put(message)

    app.__taskora_app__.start(concurrency=2)
    return app, seen


def _tasks(app):
    return (app.tasks[f"ce.{name}"] for name in ("fail", "identity", "tsum", "echo"))


def _drained(seen: queue.Queue[str], wait: float = 1.0) -> list[str]:
    """Every message put until none comes for ``wait`` seconds."""
    got = []
    while True:
        try:
            got.append(seen.get(timeout=wait))
        except queue.Empty:
            return sorted(got)


def test_an_immutable_chord_body_runs_its_errback_when_the_header_fails(running):
    app, seen = running
    fail, identity, _, echo = _tasks(app)
    sig = chord([fail.si(), identity.si(1)], echo.si("body"))
    sig.link_error(echo.si("errback"))
    with pytest.raises(KeyError):
        sig.delay().get(timeout=20)
    assert _drained(seen) == ["errback"]


def test_the_setting_links_the_chord_errback_to_each_header_task_too(running):
    app, seen = running
    fail, identity, _, echo = _tasks(app)
    app.conf.task_allow_error_cb_on_chord_header = True
    sig = chain(group([fail.si(), identity.si(1), fail.si()]), echo.si("body"))  # Celery upgrades it to a chord
    sig.link_error(echo.si("errback"))
    with pytest.raises(KeyError):
        sig.delay().get(timeout=20)
    assert _drained(seen) == ["errback"] * 3  # two failed header tasks, then the body


def test_without_the_setting_a_chord_in_the_header_runs_the_errback_once_for_its_own_body(running):
    app, seen = running
    fail, identity, _, echo = _tasks(app)
    inner = chord([identity.si("t1"), fail.si()], identity.si("inner body"))
    outer = chord(group([identity.si("t3"), inner]), echo.si("body"))
    outer.link_error(echo.si("errback"))
    outer.delay()
    assert _drained(seen, wait=3.0) == ["errback"]  # the inner body's; the outer chord never gets a failed part


@pytest.mark.parametrize("failure", ["header", "body"])
def test_a_chain_body_runs_its_errback_once_and_not_for_the_chord_it_would_have_started(running, failure):
    app, seen = running
    fail, identity, tsum, echo = _tasks(app)
    first = group(fail.si(), identity.si(3)) if failure == "header" else group(identity.si(3))
    callback = fail.si() if failure == "body" else tsum.s()
    inner_body = chain(callback, group(identity.s(), identity.s()), tsum.s())
    inner_body.link_error(echo.si("failed"))
    workflow = chord([identity.si(2)], chain(tsum.s(), chord(first, inner_body)))
    with pytest.raises(KeyError):
        workflow.delay().get(timeout=20)
    assert _drained(seen) == ["failed"]


def test_a_chord_in_a_failed_chords_group_body_runs_its_body_errback(running):
    app, seen = running
    fail, identity, tsum, echo = _tasks(app)
    workflow = chord([identity.si(1), fail.si()], group(chord([identity.si(2)], tsum.s()), tsum.s()))
    workflow.link_error(echo.si("chord"))
    with pytest.raises((KeyError, ChordError)):
        workflow.delay().get(timeout=20)
    assert _drained(seen) == ["chord", "chord"]  # the inner chord's body's, and the other body task's


def test_a_group_bodys_own_link_error_replaces_its_tasks_and_takes_the_chords(running):
    app, seen = running
    fail, identity, tsum, echo = _tasks(app)
    failing = fail.s()
    failing.link_error(echo.si("own"))
    body = group(failing, tsum.s()).set(link_error=echo.si("group"))
    with pytest.raises(KeyError):
        chord([identity.si(1)], body).apply_async(link_error=echo.si("chord")).get(timeout=20)
    assert _drained(seen) == ["chord", "group"]
