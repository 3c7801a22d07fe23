"""Eager mode (task_always_eager / apply) and direct calls: celery-surface §3.1, §3.3.7, §12, §15.7-8."""

from __future__ import annotations

import warnings
from datetime import datetime

import pytest
from kombu.exceptions import EncodeError
from taskora.compat import Celery, _result_base, states
from taskora.compat.exceptions import AlwaysEagerIgnored, MaxRetriesExceededError, Retry
from taskora.compat.result import EagerResult


@pytest.fixture
def app():
    app = Celery("proj", broker="memory://", task_always_eager=True)
    yield app
    app.close()


def test_delay_runs_inline_and_round_trips_args_through_the_serializer(app):
    seen = {}

    @app.task(bind=True)
    def echo(self, value, when):
        seen.update(request=self.request, value=value, when=when)
        return value

    result = echo.delay((1, 2), datetime(2024, 1, 2, 3, 4, 5))
    assert isinstance(result, EagerResult)
    assert result.get() == [1, 2]  # tuples travel as lists (kombu JSON)
    assert seen["when"] == datetime(2024, 1, 2, 3, 4, 5)
    request = seen["request"]
    assert request.is_eager is True and request.called_directly is False
    assert request.id == result.id and request.retries == 0
    assert request.delivery_info["is_eager"] is True


def test_unserializable_argument_raises_encode_error_even_in_eager_mode(app):
    @app.task
    def take(obj):
        return obj

    with pytest.raises(EncodeError):
        take.delay(object())


def test_failure_is_stored_in_the_result_unless_eager_propagates(app):
    @app.task
    def boom():
        raise KeyError("nope")

    result = boom.delay()
    assert result.state == states.FAILURE and result.failed()
    assert isinstance(result.result, KeyError) and "KeyError" in result.traceback
    with pytest.raises(KeyError):
        result.get()
    assert isinstance(result.get(propagate=False), KeyError)
    app.conf.task_eager_propagates = True
    with pytest.raises(KeyError):
        boom.delay()


def test_eager_retries_rerun_at_once_until_success_keeping_the_id(app):
    calls = []

    @app.task(bind=True, max_retries=5)
    def flaky(self):
        calls.append((self.request.id, self.request.retries))
        if self.request.retries < 2:
            raise self.retry(countdown=1000)
        return "ok"

    result = flaky.delay()
    assert result.get() == "ok"
    assert [r for _, r in calls] == [0, 1, 2]
    assert {i for i, _ in calls} == {result.id}


def test_with_eager_propagates_the_retry_itself_escapes(app):
    app.conf.task_eager_propagates = True

    @app.task(bind=True)
    def flaky(self):
        raise self.retry(exc=ValueError("x"))

    with pytest.raises(Retry) as info:
        flaky.delay()
    assert isinstance(info.value.exc, ValueError)


def test_bare_retry_past_max_retries_raises_max_retries_exceeded(app):
    @app.task(bind=True, max_retries=1)
    def always(self):
        raise self.retry(countdown=0)

    result = always.apply()
    assert result.state == states.FAILURE
    assert isinstance(result.result, MaxRetriesExceededError)


def test_autoretry_exhaustion_raises_the_original_exception(app):
    attempts = []

    @app.task(bind=True, autoretry_for=(KeyError,), max_retries=2)
    def failing(self):
        attempts.append(self.request.retries)
        raise KeyError("k")

    result = failing.apply()
    assert attempts == [0, 1, 2]
    assert isinstance(result.result, KeyError)


def test_retry_max_retries_none_means_the_task_default(app):
    attempts = []

    @app.task(bind=True, max_retries=1)
    def failing(self):
        attempts.append(1)
        raise self.retry(exc=ValueError("v"), max_retries=None)

    assert isinstance(failing.apply().result, ValueError)
    assert len(attempts) == 2


def test_direct_call_is_called_directly_and_retry_reraises(app):
    @app.task(bind=True)
    def direct(self, x):
        assert self.request.called_directly and self.request.id is None
        try:
            raise OSError("io")
        except OSError:
            raise self.retry() from None

    @app.task
    def plain(x):
        return x + 1

    assert plain(1) == 2 and plain.run(1) == 2
    with pytest.raises(Retry):
        direct(1)


def test_send_task_is_never_eager(app):
    @app.task
    def add(x, y):
        return x + y

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = app.send_task(add.name, (1, 2))
    assert any(issubclass(w.category, AlwaysEagerIgnored) for w in caught)
    assert not isinstance(result, EagerResult)
    assert result.state == states.PENDING  # queued, nobody runs it here


def test_get_inside_an_applied_task_waits_outside_a_worker_process(app):
    """Celery's rule: ``apply()`` in a process that is no worker may wait for results inside the task."""

    @app.task
    def inner():
        return 1

    @app.task
    def outer():
        return inner.delay().get() + inner.apply().get()

    assert outer.apply(throw=True).get() == 2


def test_get_inside_a_task_run_by_eager_delay_raises_runtime_error(app):
    """An eager ``apply_async``/``delay`` runs its task as a worker would: waiting inside it is refused."""

    @app.task
    def inner():
        return 1

    @app.task
    def outer():
        return inner.apply().get()

    with pytest.raises(RuntimeError, match="Never call result.get"):
        outer.delay().get()


def test_get_inside_a_task_in_a_worker_process_raises_runtime_error(app):
    @app.task
    def inner():
        return 1

    @app.task
    def outer():
        return inner.apply().get()

    _result_base._set_task_join_will_block(True)  # what `taskora worker` sets in its processes
    try:
        with pytest.raises(RuntimeError, match="Never call result.get"):
            outer.apply(throw=True)
    finally:
        _result_base._set_task_join_will_block(False)


def test_hooks_order_after_return_einfo_none_and_skipped_on_retry(app):
    log = []

    class Base(app.Task):
        def before_start(self, task_id, args, kwargs):
            log.append("before_start")

        def on_success(self, retval, task_id, args, kwargs):
            log.append(("on_success", retval))

        def on_retry(self, exc, task_id, args, kwargs, einfo):
            log.append(("on_retry", type(exc).__name__))

        def after_return(self, status, retval, task_id, args, kwargs, einfo):
            log.append(("after_return", status, einfo))

    @app.task(base=Base, bind=True)
    def once(self):
        if self.request.retries == 0:
            raise self.retry(exc=ValueError("again"))
        return 7

    assert once.delay().get() == 7
    assert log == ["before_start", ("on_retry", "ValueError"), "before_start", ("on_success", 7),
                   ("after_return", states.SUCCESS, None)]


def test_hook_exceptions_are_reraised_in_eager_mode(app):
    class Base(app.Task):
        def on_success(self, retval, task_id, args, kwargs):
            raise RuntimeError("hook broke")

    @app.task(base=Base)
    def fine():
        return 1

    with pytest.raises(RuntimeError, match="hook broke"):
        fine.delay()


def test_custom_call_is_used_in_eager_execution(app):
    seen = []

    class Wrapped(app.Task):
        def __call__(self, *args, **kwargs):
            seen.append(("enter", self.request.is_eager))
            return super().__call__(*args, **kwargs) * 10

    @app.task(base=Wrapped)
    def one():
        return 1

    assert one.delay().get() == 10
    assert seen == [("enter", True)]
