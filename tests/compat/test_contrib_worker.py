"""``taskora.compat.contrib.testing``: the embedded worker, the test app and the Manager, on real engines."""

from __future__ import annotations

import threading

import pytest
import redis
from taskora.compat import _state, signals
from taskora.compat.contrib.testing.app import DEFAULT_TEST_CONFIG, TestApp, setup_default_app
from taskora.compat.contrib.testing.manager import Manager, Sentinel
from taskora.compat.contrib.testing.worker import WorkerStartError, start_worker
from taskora.compat.worker import state as worker_state

from taskora.adapters.memory import MemoryAdapter

ENGINES = ["redis", "memory"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def test_app(engine, request):
    """A TestApp on the parametrised engine: Celery's default test config (memory://) or a redis:// one."""
    config = {}
    if engine == "redis":
        url = request.getfixturevalue("redis_url")
        config = {"broker_url": url, "result_backend": url}
    app = TestApp("contribtests", config=config)
    with setup_default_app(app):
        yield app


def _mul(app):
    @app.task(name="contribtests.mul")
    def mul(x, y):
        return x * y

    return mul


@pytest.mark.parametrize("pool", ["solo", "threads", "prefork"])
def test_embedded_worker_runs_tasks_answers_ping_and_stops_on_exit(test_app, engine, pool):
    mul = _mul(test_app)
    with start_worker(test_app, pool=pool, concurrency=2) as worker:
        assert mul.delay(6, 7).get(timeout=10) == 42
        assert {worker.hostname: {"ok": "pong"}} in test_app.control.ping(timeout=2)
        expected = "threads" if pool == "prefork" else pool  # in the test process, as Celery's embedded worker
        assert worker.pool.settings.pool == expected
    assert test_app.control.ping(timeout=0.3, destination=[worker.hostname]) == []


def test_default_test_config_runs_on_the_in_memory_engine():
    app = TestApp()
    with setup_default_app(app):
        assert app.conf.broker_url == DEFAULT_TEST_CONFIG["broker_url"] == "memory://"
        assert isinstance(app.__taskora_app__.adapter, MemoryAdapter)


def test_a_redis_broker_in_the_config_is_the_one_used(redis_url):
    app = TestApp("contribtests", config={"broker_url": redis_url, "result_backend": redis_url})
    with setup_default_app(app):
        mul = _mul(app)
        with start_worker(app):
            result = mul.delay(2, 3)
            assert result.get(timeout=10) == 6
        assert any(result.id.encode() in key for key in redis.Redis.from_url(redis_url).keys("*"))


def test_reload_picks_up_a_task_defined_after_the_start(test_app):
    with start_worker(test_app) as worker:
        mul = _mul(test_app)
        worker.reload()
        assert mul.delay(3, 3).get(timeout=10) == 9


def test_a_task_outlasting_shutdown_timeout_fails_the_exit_and_is_not_left_active(test_app):
    started, release = threading.Event(), threading.Event()

    @test_app.task(name="contribtests.block")
    def block():
        started.set()
        release.wait(10)
        return "done"

    with pytest.raises(WorkerStartError, match="failed to stop within 0.2s"):
        with start_worker(test_app, pool="threads", shutdown_timeout=0.2):
            result = block.delay()
            assert started.wait(10)
    release.set()
    assert result.state != "STARTED"  # the cold stop handed the job back instead of leaving it active


def test_an_unknown_pool_is_a_clear_error_and_starts_nothing(test_app):
    with pytest.raises(ValueError, match="unknown worker pool 'eventlet'"):
        with start_worker(test_app, pool="eventlet"):
            pass
    assert test_app.control.ping(timeout=0.3) == []


def test_setup_default_app_restores_the_current_app_and_closes_the_test_app():
    before = _state.get_current_app()
    app = TestApp()
    with setup_default_app(app):
        app.set_current()
        app.set_default()
        assert _state.get_current_app() is app
    assert _state.get_current_app() is before
    assert app not in _state.apps()


def test_the_trap_fails_any_use_of_the_current_app():
    app = TestApp()
    with setup_default_app(app, use_trap=True):
        with pytest.raises(RuntimeError, match="Test depends on current_app"):
            _state.get_current_app().tasks  # noqa: B018


def test_manager_waits_joins_and_asserts_task_states(test_app):
    mul = _mul(test_app)
    manager = Manager(test_app)
    with start_worker(test_app):
        results = [mul.delay(i, 2) for i in range(3)]
        manager.assert_accepted([r.id for r in results])
        assert manager.join(test_app.ResultSet(results), timeout=10) == [0, 2, 4]
        assert manager.wait_for(lambda: results[0].get(timeout=5), (Sentinel,)) == 0
        manager.ensure_not_for_a_while(lambda: manager.true_or_raise(lambda: False), (Sentinel,), max_retries=2)
        manager.wait_until_idle()
    assert not manager.is_received(["no-such-task-id"])


def test_wait_until_idle_gives_up_on_a_job_that_never_ends(test_app):
    started, release = threading.Event(), threading.Event()

    @test_app.task(name="contribtests.stuck")
    def stuck():
        started.set()
        release.wait(30)

    with start_worker(test_app, pool="threads", concurrency=2, shutdown_timeout=15):
        stuck.delay()
        assert started.wait(10)
        try:
            with pytest.raises(AssertionError, match="workers still busy after 0.5s"):
                Manager(test_app).wait_until_idle(timeout=0.5)
        finally:
            release.set()


def test_a_prefork_embedded_worker_keeps_its_bookkeeping_in_the_test_process(test_app):
    """Celery's suite reads ``worker.state`` and ``task_received`` in the test process after a prefork run."""
    mul = _mul(test_app)
    received = []

    def on_received(sender=None, request=None, **kwargs):
        received.append(request.id)

    signals.task_received.connect(on_received, weak=False)
    try:
        with start_worker(test_app, pool="prefork", concurrency=1):
            result = mul.delay(2, 3)
            assert result.get(timeout=10) == 6
            assert result.id in worker_state.successful_requests
            assert result.id in received
    finally:
        signals.task_received.disconnect(on_received)


def test_worker_state_counts_each_run_and_drops_it_when_it_ends_also_through_sys_exit(test_app):
    """The handler keeps ``worker.state`` around the trace itself: a task leaving through ``sys.exit()`` (past the
    trace's own error handling) is still counted and no longer active once its job has failed."""

    @test_app.task(name="contribtests.leave")
    def leave():
        raise SystemExit(3)

    mul = _mul(test_app)
    with start_worker(test_app, pool="solo"):  # its start runs celery.ping: counted before ours
        counted = worker_state.all_total_count[0]
        done, left = mul.delay(2, 3), leave.delay()
        assert done.get(timeout=10) == 6
        with pytest.raises(Exception, match="sys.exit"):
            left.get(timeout=10)
        assert worker_state.all_total_count[0] == counted + 2
        assert {done.id, left.id}.isdisjoint(worker_state.active_requests)
        assert done.id in worker_state.successful_requests and left.id not in worker_state.successful_requests
        assert worker_state.total_count["contribtests.leave"] >= 1


def test_revoke_by_stamped_headers_is_answered_and_remembered_by_the_worker(test_app):
    _mul(test_app)
    worker_state.revoked_stamps.clear()
    try:
        with start_worker(test_app, pool="solo") as worker:
            replies = test_app.control.revoke_by_stamped_headers({"tenant": ["a"]}, reply=True)
            assert replies == [
                {worker.hostname: {"ok": "headers {'tenant': ['a']} flagged as revoked, but not terminated"}}]
            assert worker_state.revoked_stamps == {"tenant": ["a"]}
    finally:
        worker_state.revoked_stamps.clear()
