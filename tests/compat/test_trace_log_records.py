"""``celery.app.trace``'s log lines: Celery's formats, with the line's context as ``record.data``."""

from __future__ import annotations

import logging

import pytest
import taskora.compat as celery
from taskora.compat.contrib.testing.app import TestApp, setup_default_app
from taskora.compat.contrib.testing.worker import start_worker


@pytest.fixture
def test_app():
    app = TestApp("tracelogtests")
    with setup_default_app(app):
        yield app


def _records(caplog, task_id):
    return [(r.name, r.levelno, r.msg, r.data["args"], r.data["kwargs"]) for r in caplog.records
            if r.name in {"celery.worker.strategy", "celery.app.trace"} and r.data["id"] == task_id]


def test_received_and_succeeded_lines_carry_the_requests_argument_reprs(test_app, caplog):
    @test_app.task(name="tracelogtests.add")
    def add(x, y):
        return x + y

    caplog.set_level(logging.INFO)
    with start_worker(test_app, pool="solo", loglevel="INFO"):
        result = add.s(2, 2).set(argsrepr="HIDDEN", kwargsrepr="ALSO HIDDEN").delay()
        assert result.get(timeout=10) == 4
    assert _records(caplog, result.id) == [
        ("celery.worker.strategy", logging.INFO, celery.app.trace.LOG_RECEIVED, "HIDDEN", "ALSO HIDDEN"),
        ("celery.app.trace", logging.INFO, celery.app.trace.LOG_SUCCESS, "HIDDEN", "ALSO HIDDEN"),
    ]
    line = next(r for r in caplog.records if r.name == "celery.app.trace" and r.data["id"] == result.id)
    assert line.getMessage().startswith(f"Task tracelogtests.add[{result.id}] succeeded in ")
    assert line.getMessage().endswith("s: 4")


def test_a_failure_line_without_reprs_shows_the_arguments(test_app, caplog):
    @test_app.task(name="tracelogtests.fail")
    def fail(x):
        raise ValueError(f"bad {x}")

    caplog.set_level(logging.INFO)
    with start_worker(test_app, pool="solo", loglevel="INFO"):
        result = fail.delay(7)
        with pytest.raises(ValueError):
            result.get(timeout=10)
    failed = [r for r in caplog.records if r.name == "celery.app.trace" and r.data["id"] == result.id]
    assert [(r.levelno, r.msg, r.data["args"], r.data["kwargs"]) for r in failed] == [
        (logging.ERROR, celery.app.trace.LOG_FAILURE, "[7]", "{}")]
    assert failed[0].getMessage() == f"Task tracelogtests.fail[{result.id}] raised unexpected: ValueError('bad 7')"
