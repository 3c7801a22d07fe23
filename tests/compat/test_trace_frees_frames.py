"""A failed task's frames let go of their local variables once the failure is handled (Celery's #8882 fix).

The failure's log record keeps the exception and its traceback (pytest's ``caplog`` keeps every record):
without clearing, every large object a failing task touched stays alive as long as the record does.
"""

from __future__ import annotations

import gc
import traceback
import weakref

import pytest
from taskora.compat.contrib.testing.app import TestApp, setup_default_app
from taskora.compat.contrib.testing.worker import start_worker


class Payload:
    """Stands for a large object a task holds in a local variable."""


@pytest.fixture
def test_app():
    app = TestApp("tracefrees")
    with setup_default_app(app):
        yield app


def _failing_task(app, refs):
    @app.task(name="tracefrees.crunch")
    def crunch():
        payload = Payload()
        refs.append(weakref.ref(payload))
        raise RuntimeError("crunch failed")

    return crunch


def test_a_worker_failure_kept_in_a_log_record_does_not_keep_the_tasks_locals(test_app, caplog):
    refs: list[weakref.ref[Payload]] = []
    crunch = _failing_task(test_app, refs)
    with start_worker(test_app, pool="solo"):
        result = crunch.delay()
        with pytest.raises(RuntimeError):
            result.get(timeout=10)
    kept = [r for r in caplog.records if r.name == "celery.app.trace" and r.exc_info]
    assert kept, "the failure line (with its exception) is what keeps the traceback here"
    gc.collect()
    assert refs and refs[0]() is None


def test_an_eager_failure_keeps_a_readable_traceback_but_not_the_locals(test_app, caplog):
    refs: list[weakref.ref[Payload]] = []
    crunch = _failing_task(test_app, refs)
    result = crunch.apply()
    assert result.failed()
    gc.collect()
    assert refs[0]() is None
    text = "".join(traceback.format_exception(result.result))
    assert 'raise RuntimeError("crunch failed")' in text and "in crunch" in text


def test_a_propagated_eager_failure_does_not_keep_the_request_or_the_locals(test_app):
    test_app.conf.task_eager_propagates = True
    refs: list[weakref.ref[object]] = []

    @test_app.task(name="tracefrees.crunch_bound", bind=True)
    def crunch(self):
        payload = Payload()
        refs.extend([weakref.ref(payload), weakref.ref(self.request)])
        raise RuntimeError("crunch failed")

    with pytest.raises(RuntimeError) as caught:
        crunch.apply()
    gc.collect()
    assert [ref() for ref in refs] == [None, None]
    assert "in crunch" in "".join(traceback.format_exception(caught.value))
