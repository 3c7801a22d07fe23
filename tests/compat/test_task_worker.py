# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Celery tasks through a real taskora worker on both engines: results, retries, states, routing.

Pins celery-surface §15 items 4-6, 9-10, 17, 19, 21, 26, 28-31.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from taskora.compat import shared_task, states
from taskora.compat.app._publish import native_priority
from taskora.compat.app.task import backoff_countdown
from taskora.compat.exceptions import TaskRevokedError, TimeoutError

from taskora.clock import VirtualClock

from .celery_helpers import make_celery, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


class CustomError(Exception):
    def __init__(self, code, detail):
        super().__init__(code, detail)
        self.code = code


def start(app):
    return app.__taskora_app__.start(concurrency=2)


def test_delay_returns_at_once_and_get_returns_the_value(make_celery):
    app = make_celery()
    seen = {}

    @app.task(bind=True)
    def add(self, x, y):
        seen["request"] = self.request
        return x + y

    result = add.apply_async((2, 3), headers={"tenant": "acme"}, task_id="fixed-id")
    assert result.id == "fixed-id" and result.state == states.PENDING
    start(app)
    assert result.get(timeout=10) == 5
    assert result.successful() and result.ready() and result.date_done is not None
    request = seen["request"]
    assert request.id == "fixed-id" and request.args == [2, 3] and isinstance(request.args, list)
    assert request.headers == {"tenant": "acme"} and request.tenant == "acme"
    assert request.is_eager is False and request.called_directly is False
    assert result.args == [2, 3] and result.name == add.name


def test_original_exception_class_is_reraised_and_timeout_is_celerys(make_celery):
    app = make_celery()

    @app.task
    def fail():
        raise CustomError(42, "bad")

    @app.task
    def slow():
        threading.Event().wait(0.5)

    start(app)
    result = fail.delay()
    with pytest.raises(CustomError) as info:
        result.get(timeout=10)
    assert info.value.code == 42 and result.state == states.FAILURE
    assert "CustomError" in result.traceback
    with pytest.raises(TimeoutError) as timeout:
        slow.delay().get(timeout=0.05)
    assert not isinstance(timeout.value, __builtins__["TimeoutError"] if isinstance(__builtins__, dict)
                          else __builtins__.TimeoutError)


def test_unknown_ids_are_pending(make_celery):
    app = make_celery()
    assert app.AsyncResult("never-sent").state == states.PENDING
    assert app.AsyncResult("never-sent").result is None


def test_retry_keeps_the_id_shows_retry_state_and_counts_retries(make_celery):
    app = make_celery()
    gate = threading.Event()

    @app.task(bind=True, max_retries=3)
    def flaky(self):
        if self.request.retries == 0:
            raise self.retry(exc=ValueError("first"), countdown=0.3)
        gate.wait(5)
        return self.request.retries

    start(app)
    result = flaky.delay()
    wait_until(lambda: result.state == states.RETRY)
    assert isinstance(result.info, ValueError)
    gate.set()
    assert result.get(timeout=10) == 1


def test_autoretry_without_backoff_waits_default_retry_delay(make_celery):
    app = make_celery()

    @app.task(autoretry_for=(KeyError,))
    def failing():
        raise KeyError("k")

    start(app)
    result = failing.delay()
    wait_until(lambda: result.state == states.RETRY)
    job = result._handle().fields()
    assert 179_000 <= int(job["nextAttemptAt"]) - int(job["failedAt"]) <= 181_000


def test_backoff_formula_and_full_jitter():
    assert [backoff_countdown(True, n, 600, False) for n in range(11)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600]
    assert backoff_countdown(5, 2, 600, False) == 20 and backoff_countdown(0.5, 0, 600, False) == 1
    samples = {backoff_countdown(True, 3, 600, True) for _ in range(300)}
    assert samples <= set(range(9)) and 0 in samples


def test_worker_retries_exhausted_raise_original_or_max_retries_exceeded(make_celery):
    app = make_celery()

    @app.task(autoretry_for=(KeyError,), retry_backoff=True, retry_jitter=False, retry_backoff_max=0,
              max_retries=2)
    def auto():
        raise KeyError("k")

    @app.task(bind=True, max_retries=1, default_retry_delay=0)
    def bare(self):
        raise self.retry()

    start(app)
    with pytest.raises(KeyError):
        auto.delay().get(timeout=10)
    from taskora.compat.exceptions import MaxRetriesExceededError

    result = bare.delay()
    with pytest.raises(MaxRetriesExceededError):
        result.get(timeout=10)
    assert result.retries == 1


def test_ignore_result_get_returns_none_at_once(make_celery):
    app = make_celery()

    @app.task(ignore_result=True)
    def quiet():
        return 1

    start(app)
    result = quiet.delay()
    assert result.get(timeout=5) is None


def test_update_state_custom_state_and_track_started(make_celery):
    app = make_celery()
    first, second = threading.Event(), threading.Event()

    @app.task(bind=True, track_started=True)
    def progress(self):
        first.wait(5)
        self.update_state(state="PROGRESS", meta={"done": 3})
        second.wait(5)
        return "end"

    start(app)
    result = progress.delay()
    wait_until(lambda: result.state == states.STARTED and result.info)
    assert result.info["hostname"] == app.hostname
    first.set()
    wait_until(lambda: result.state == "PROGRESS")
    assert result.info == {"done": 3}
    second.set()
    assert result.get(timeout=10) == "end"


def test_revoke_and_expires_end_revoked(make_celery):
    app = make_celery()

    @app.task
    def later():
        return 1

    result = later.apply_async(countdown=60)
    result.revoke()
    assert result.state == states.REVOKED
    with pytest.raises(TaskRevokedError):
        result.get(timeout=5)
    expired = later.apply_async(expires=0.05)
    threading.Event().wait(0.1)
    start(app)
    wait_until(lambda: expired.state == states.REVOKED)


def test_routing_precedence_and_per_call_queue(make_celery):
    app = make_celery(task_routes={"proj.*": {"queue": "routed"}}, task_default_queue="dflt")

    @app.task(name="proj.decorated", queue="deco")
    def decorated():
        return "d"

    @app.task(name="proj.routed")
    def routed():
        return "r"

    @app.task(name="other.plain")
    def plain():
        return "p"

    assert decorated.delay().queue == "deco"
    assert routed.delay().queue == "routed"
    assert plain.delay().queue == "dflt"
    explicit = plain.apply_async(queue="special")
    assert explicit.queue == "special"
    native = app.__taskora_app__
    assert native.select_tasks(queues=["special"])[0].name == "special::other.plain"
    worker = native.start(queues=["special"])
    assert explicit.get(timeout=10) == "p"
    assert worker.processed == 1


def test_priority_zero_is_highest_on_the_celery_scale():
    assert native_priority(None) == native_priority(0) == native_priority(2) == 0
    assert native_priority(3) == -3 and native_priority(9) == -9
    assert native_priority(5, [0, 5]) == -5


def test_jobs_run_in_celerys_priority_order_the_default_first_and_in_the_fifo_list(make_celery):
    """p3 and p4 share the step 3 (kombu's steps 0, 3, 6, 9), where the engine orders by dispatch time in ms:
    the virtual clock gives each call its own ms, as a real producer's calls a ms apart (in one ms: by job id)."""
    app = make_celery()
    seen = []

    @app.task(name="order.record")
    def record(name):
        seen.append(name)

    native = app.__taskora_app__
    clock = native.adapter.clock = VirtualClock()
    calls = [("p9", 9), ("plain-1", None), ("p3", 3), ("p0", 0), ("p6", 6), ("plain-2", None), ("p4", 4)]
    sent = {}
    for name, priority in calls:
        sent[name] = record.apply_async((name,), priority=priority)
        clock.advance(0.001)
    fifo = native.adapter.keys.state_set("order.record", "wait")
    assert native.adapter.client.llen(fifo) == 3  # the default step waits in the engine's FIFO list
    native.start(concurrency=1)
    sent["p9"].get(timeout=10)  # the lowest priority runs last
    assert seen == ["plain-1", "p0", "plain-2", "p3", "p4", "p6", "p9"]


def test_countdown_beats_eta_and_naive_eta_is_in_app_timezone(make_celery):
    app = make_celery(timezone="Asia/Tokyo")
    seen = {}

    @app.task(bind=True)
    def when(self):
        seen["eta"] = self.request.eta

    both = when.apply_async(countdown=0, eta=datetime.now() + timedelta(hours=5))
    start(app)
    both.get(timeout=10)
    assert isinstance(seen["eta"], str)  # ISO string in the worker, as Celery's
    naive = datetime.now(app.timezone).replace(tzinfo=None) + timedelta(seconds=30)
    delayed = when.apply_async(eta=naive)
    job = delayed._handle().fields()
    assert 25_000 <= int(job["delay"]) <= 31_000


def test_typing_checks_the_call_signature_and_unknown_options_become_attributes(make_celery):
    app = make_celery()

    @app.task(foo="bar")
    def two(a, b):
        return a

    assert two.foo == "bar"
    with pytest.raises(TypeError):
        two.delay(1)
    with pytest.raises(TypeError):
        two.apply_async(1)


# Defined once, at import, as a project's shared tasks are: each definition adds a callback that registers it in
# every app made afterwards (as in Celery), so one made per test would be registered twice by the next app.
@shared_task
def mul(x, y):
    return x * y


def test_shared_task_follows_the_current_app_from_other_threads(make_celery):
    app = make_celery()
    start(app)
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", mul.delay(3, 4).get(timeout=10)))
    thread.start()
    thread.join(15)
    assert box["r"] == 12
    assert app.tasks[mul.name] is app.tasks[mul.name]  # one singleton per app


def test_duplicate_task_names_keep_the_first(make_celery):
    app = make_celery()

    @app.task(name="dup")
    def first():
        return 1

    with pytest.warns(UserWarning):
        @app.task(name="dup")
        def second():
            return 2

    assert app.tasks["dup"].run() == 1
