"""A failed job's ``error`` field is the bare message, as the TypeScript taskora stores it (recording
05: ``kaboom attempt 3``); the exception's type stays in ``errorDetail`` and in JobFailedError."""

from __future__ import annotations

import json

import pytest

from taskora import JobFailedError, Taskora


def _boom(data):
    raise ValueError(data)


def test_the_error_field_is_the_bare_message_and_the_type_stays_in_the_detail(app: Taskora) -> None:
    task = app.task("boom", _boom)
    app.start()
    handle = task.dispatch("kaboom attempt 1")

    with pytest.raises(JobFailedError, match="failed: ValueError: kaboom attempt 1") as failed:
        handle.result(timeout=10)
    stored = handle.fields(["error", "errorDetail"])
    assert stored is not None and stored["error"] == "kaboom attempt 1"
    assert json.loads(stored["errorDetail"])["type"] == "ValueError"
    assert (failed.value.error, failed.value.error_type) == ("kaboom attempt 1", "ValueError")


def test_an_error_with_no_message_is_stored_as_its_type_name(app: Taskora) -> None:
    def silent(data):
        raise KeyError

    task = app.task("silent", silent)
    app.start()

    with pytest.raises(JobFailedError) as failed:
        task.dispatch(None).result(timeout=10)
    assert failed.value.error == "KeyError"
