"""The embedded worker's ``loglevel`` (``WORKER_LOGLEVEL``) decides which of its lines a test's ``caplog`` sees.

Celery's ``setup_app_for_worker`` puts the level on the root logger (``app.log.setup``), so at ``INFO`` the
``received``/``succeeded`` lines reach ``caplog`` with no ``caplog.set_level``, and at the default ``error``
only failures do. Celery's integration suite reads them so (``test_trace_log_arguments``).
"""

from __future__ import annotations

import logging

import pytest
from taskora.compat.contrib.testing.app import TestApp, setup_default_app
from taskora.compat.contrib.testing.worker import setup_app_for_worker, start_worker

from taskora.errors import ConfigurationError

CELERY_LINES = {"celery.worker.strategy", "celery.app.trace"}


@pytest.fixture
def test_app():
    app = TestApp("workerloglevel")
    with setup_default_app(app):
        yield app


@pytest.fixture
def root_at_warning():
    """The root logger as a fresh process has it (an earlier test may have left another level)."""
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.WARNING)
    yield root
    root.setLevel(before)


def _lines(caplog, task_id):
    return [(r.name, r.levelno) for r in caplog.records if r.name in CELERY_LINES and r.data["id"] == task_id]


def _add_and_fail(app):
    @app.task(name="workerloglevel.add")
    def add(x, y):
        return x + y

    @app.task(name="workerloglevel.fail")
    def fail():
        raise KeyError("boom")

    return add, fail


def test_at_info_the_received_and_succeeded_lines_reach_caplog_without_set_level(test_app, root_at_warning, caplog):
    add, _ = _add_and_fail(test_app)
    with start_worker(test_app, pool="solo", loglevel="INFO"):
        result = add.delay(2, 3)
        assert result.get(timeout=10) == 5
    assert _lines(caplog, result.id) == [("celery.worker.strategy", logging.INFO), ("celery.app.trace", logging.INFO)]


def test_at_error_only_the_failure_line_is_logged_even_when_caplog_asks_for_info(test_app, root_at_warning, caplog):
    add, fail = _add_and_fail(test_app)
    caplog.set_level(logging.INFO)
    with start_worker(test_app, pool="solo", loglevel="error"):
        ok, failed = add.delay(1, 1), fail.delay()
        assert ok.get(timeout=10) == 2
        with pytest.raises(KeyError):
            failed.get(timeout=10)
    assert _lines(caplog, ok.id) == []
    assert _lines(caplog, failed.id) == [("celery.app.trace", logging.ERROR)]


def test_the_levels_the_worker_set_are_put_back_when_it_stops(test_app, root_at_warning):
    _add_and_fail(test_app)
    logging.getLogger("taskora").setLevel(logging.NOTSET)
    with start_worker(test_app, pool="solo", loglevel="DEBUG"):
        assert logging.getLogger().level == logging.DEBUG
        assert logging.getLogger("taskora").level == logging.DEBUG
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("taskora").level == logging.NOTSET


def test_an_unknown_loglevel_is_a_configuration_error_naming_it(test_app, root_at_warning):
    with pytest.raises(ConfigurationError, match="'LOUD'"):
        setup_app_for_worker(test_app, loglevel="LOUD")
    assert logging.getLogger().level == logging.WARNING
