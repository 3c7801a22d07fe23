# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Hostile input to the Celery front: bad ``apply_async`` options and arguments raise before anything is
written, naming the option and the value, as exceptions Celery code already catches (TypeError/ValueError,
kombu's EncodeError); an unknown id still waits as PENDING (Celery's semantics); URLs are shown masked."""

from __future__ import annotations

import math
import socket
from datetime import datetime, timedelta
from typing import Any

import pytest
from taskora.compat import Celery, states
from taskora.compat.exceptions import EncodeError, OperationalError, TimeoutError
from taskora.compat.result import AsyncResult

from taskora.errors import ConfigurationError, OptionTypeError

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


def _nested(depth: int = 100_000) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(depth):
        node.append([])
        node = node[0]
    return root


# (label, apply_async options, expected error, builtin it must also be, words the message must hold)
BAD_OPTIONS: list[tuple[str, dict[str, Any], type[Exception], type[Exception], tuple[str, ...]]] = [
    ("countdown text", {"countdown": "abc"}, OptionTypeError, TypeError, ("countdown", "'abc'")),
    ("countdown overflow", {"countdown": 1e30}, ConfigurationError, ValueError, ("countdown", "1e+30", "range")),
    ("countdown huge int", {"countdown": 10**400}, ConfigurationError, ValueError, ("countdown", "range")),
    ("countdown NaN", {"countdown": math.nan}, ConfigurationError, ValueError, ("countdown", "nan")),
    ("countdown inf", {"countdown": math.inf}, ConfigurationError, ValueError, ("countdown", "inf")),
    ("eta text", {"eta": "x"}, ConfigurationError, ValueError, ("eta", "'x'", "ISO 8601")),
    ("eta overflow", {"eta": 1e30}, ConfigurationError, ValueError, ("eta", "range")),
    ("eta year 9999", {"eta": datetime.max}, ConfigurationError, ValueError, ("eta", "9999")),
    ("eta list", {"eta": [1]}, OptionTypeError, TypeError, ("eta", "list")),
    ("expires text", {"expires": "x"}, ConfigurationError, ValueError, ("expires", "'x'")),
    ("expires timedelta", {"expires": timedelta(days=10**8)}, ConfigurationError, ValueError, ("expires", "range")),
    ("priority text", {"priority": "x"}, ConfigurationError, ValueError, ("priority", "'x'")),
    ("priority list", {"priority": [1]}, OptionTypeError, TypeError, ("priority", "list")),
    ("task id of a queue key", {"task_id": "wait"}, ConfigurationError, ValueError, ("job_id", "reserved")),
    ("task id not a string", {"task_id": 5}, OptionTypeError, TypeError, ("task_id", "int")),
    ("queue not a name", {"queue": 5}, OptionTypeError, TypeError, ("queue", "int")),
    ("headers not a dict", {"headers": "x"}, OptionTypeError, TypeError, ("headers", "'x'")),
    ("retries text", {"retries": "x"}, OptionTypeError, TypeError, ("retries", "'x'")),
    ("link text", {"link": "x"}, OptionTypeError, TypeError, ("link", "signature")),
]


def _stored_keys(app: Celery, task: str) -> list[bytes]:
    return list(app.__taskora_app__.adapter.client.keys(f"taskora:{{{task}}}:*"))


@pytest.mark.parametrize(("options", "error", "builtin", "words"), [c[1:] for c in BAD_OPTIONS],
                         ids=[c[0] for c in BAD_OPTIONS])
def test_bad_apply_async_options_raise_naming_the_option_and_write_nothing(make_celery, options, error, builtin,
                                                                         words) -> None:  # fmt: skip
    app = make_celery()

    @app.task
    def add(x, y):
        return x + y

    with pytest.raises(error) as raised:
        add.apply_async((1, 2), **options)
    assert isinstance(raised.value, builtin)
    for word in words:
        assert word in str(raised.value), str(raised.value)
    if "retries" not in options:  # send_task takes retries= but does not pass it on (not an apply_async option)
        with pytest.raises(error):
            app.send_task(add.name, (1, 2), **options)
    assert _stored_keys(app, add.name) == []


@pytest.mark.parametrize("args", [[_nested()], ["caf\ud800"]], ids=["deep nesting", "lone surrogate"])
def test_arguments_json_cannot_carry_raise_encode_error_and_write_nothing(make_celery, args) -> None:
    app = make_celery()

    @app.task
    def echo(value):
        return value

    with pytest.raises(EncodeError):
        echo.apply_async(args)
    assert _stored_keys(app, echo.name) == []


def test_good_options_still_publish(make_celery) -> None:
    app = make_celery()

    @app.task
    def add(x, y):
        return x + y

    add.apply_async((1, 2), countdown=-5, priority="3", eta=None, expires="2999-01-01T00:00:00+00:00")
    add.apply_async((1, 2), eta=datetime(2998, 1, 1), expires=timedelta(days=365 * 900))
    counts = app.__taskora_app__.adapter.counts(add.name)
    assert counts["waiting"] + counts["delayed"] == 2


def test_get_on_an_unknown_id_waits_as_pending_as_in_celery(make_celery) -> None:
    app = make_celery()

    @app.task
    def add(x, y):
        return x + y

    unknown = app.AsyncResult("no-such-task-id")
    assert unknown.state == states.PENDING
    with pytest.raises(TimeoutError):
        unknown.get(timeout=0.3, interval=0.05)
    # What apply_async returns knows its engine task, so the native handle is asked directly: a job not (or no
    # longer) stored must still wait, not end at once
    published_then_gone = AsyncResult("no-such-task-id", app=app, task_name=add.name, engine_task=add.name)
    with pytest.raises(TimeoutError):
        published_then_gone.get(timeout=0.3, interval=0.05)


def test_broker_errors_and_settings_never_show_the_password(adapter_kind: str) -> None:
    if adapter_kind != "redis":
        pytest.skip("a broker URL is a Redis one")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Celery("proj", broker=f"redis://:s3cret@127.0.0.1:{port}/0?password=s3cret")
    try:

        @app.task
        def add(x, y):
            return x + y

        with pytest.raises(OperationalError) as raised:
            add.delay(1, 2)
        assert "s3cret" not in str(raised.value) and f"127.0.0.1:{port}" in str(raised.value)
        assert "s3cret" not in str(app.conf.table()) + app.conf.humanize()
        assert "s3cret" not in repr(app.__taskora_app__)
    finally:
        app.close()


def test_bad_options_on_a_canvas_step_raise_before_anything_is_published(make_celery) -> None:
    from taskora.compat import chain

    app = make_celery()

    @app.task
    def add(x, y):
        return x + y

    with pytest.raises(OptionTypeError, match="countdown"):
        chain(add.s(1, 2), add.s(3).set(countdown="abc")).apply_async()
    with pytest.raises(ConfigurationError, match="eta"):
        chain(add.s(1, 2), add.s(3).set(eta="tomorrow")).apply_async()
    assert _stored_keys(app, add.name) == []
    assert list(app.__taskora_app__.adapter.client.keys("taskora:wf:*")) == []
