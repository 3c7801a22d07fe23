"""Copied as the root ``conftest.py`` of the migrated suite: the harness's per-test timeout and result log.

Why a log of its own instead of junit XML: a file whose run is killed (a hang past the file's budget)
still leaves the outcome of every test that finished, and the collected list says what never ran.
"""

import json
import os

import pytest

_RESULTS = os.environ.get("CONFORMANCE_RESULTS")
_TIMEOUT = float(os.environ.get("CONFORMANCE_TIMEOUT", "30"))


def _write(entry):
    if _RESULTS:
        with open(_RESULTS, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


#: Tests that take longer than the per-test timeout by design, on Celery too, and their own limit (seconds):
#: test_retry waits out six ``countdown=5`` retries (30 s and more); Celery's suite gives it no timeout.
LONG_TESTS = {"t/integration/test_tasks.py::test_tasks::test_retry": 90.0}


def pytest_collection_modifyitems(items):
    """Every test gets the harness's timeout, ahead of the suite's own (longer) ``@pytest.mark.timeout``;
    a test of ``LONG_TESTS`` gets its own (never less than the harness's)."""
    for item in items:
        limit = max(_TIMEOUT, LONG_TESTS.get(item.nodeid, 0.0))
        item.add_marker(pytest.mark.timeout(limit), append=False)


def pytest_collection_finish(session):
    """The tests that will run: after ``--deselect`` (which may act after the hook above)."""
    _write({"collected": [item.nodeid for item in session.items]})


def pytest_runtest_logreport(report):
    _write({"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail")})
