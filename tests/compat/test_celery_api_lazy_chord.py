# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Chords whose header is a generator: members are sent as it yields, the body joins them (issue #14)."""

from __future__ import annotations

import threading

import pytest
from taskora.compat import chord, signature
from taskora.compat.exceptions import ChordError

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def running(make_celery):
    app = make_celery()
    first_ran = threading.Event()

    @app.task(name="lc.record")
    def record(i):
        if i == 0:
            first_ran.set()
        return i

    @app.task(name="lc.tsum")
    def tsum(values):
        return sum(values)

    @app.task(name="lc.fail")
    def fail(i):
        raise ValueError(f"member {i} failed")

    app.__taskora_app__.start(concurrency=2)
    return app, first_ran


def test_a_generator_header_is_sent_incrementally_and_the_body_gets_every_result(running):
    app, first_ran = running
    size = 4

    def header():
        for i in range(size):
            if i == size - 1:
                assert first_ran.wait(10), "Chord header was unrolled too early"
            yield signature("lc.record", (i,), app=app)

    result = chord(header(), signature("lc.tsum", app=app))()
    assert result.get(timeout=20) == sum(range(size))
    assert [r.get(timeout=5) for r in result.parent.results] == list(range(size))


def test_a_failing_member_fails_the_body_with_chord_error(running):
    app, _ = running

    def header():
        yield signature("lc.record", (1,), app=app)
        yield signature("lc.fail", (2,), app=app)

    result = chord(header(), signature("lc.tsum", app=app)).apply_async()
    with pytest.raises(ChordError, match="member 2 failed"):
        result.get(timeout=20, follow_parents=False)


def test_a_generator_header_applied_eagerly(make_celery):
    app = make_celery()

    @app.task(name="lc.double")
    def double(i):
        return 2 * i

    @app.task(name="lc.total")
    def total(values):
        return sum(values)

    header = (signature("lc.double", (i,), app=app) for i in range(3))
    assert chord(header, signature("lc.total", app=app)).apply().get() == 6
