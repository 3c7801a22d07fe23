"""Hostile input to the native API: every bad value raises a TaskoraError naming what is wrong, before
anything is written; URLs never show their passwords; pickle is opt-in; a broker that is not a usable
Redis is a clear BrokerUnreachableError (exit 3 in the CLI)."""

from __future__ import annotations

import asyncio
import math
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from taskora import ConfigurationError, SerializationError, Taskora
from taskora.errors import (
    BrokerUnreachableError,
    JobFailedError,
    JobNotFoundError,
    RetryError,
    TaskoraError,
    TimeoutError,
)
from taskora.redis import redis_adapter
from taskora.urls import mask_url
from tests.cli.helpers import PROJ, WorkerProcess, client_app, run_cli
from tests.redis_server import RedisServer


def _deeply_nested(depth: int = 100_000) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(depth):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


def _task_keys(app: Taskora, task: str) -> list[bytes]:
    return list(app.adapter.client.keys(f"taskora:{{{task}}}:*"))


# (label, data, dispatch options, expected error, words the message must hold)
BAD_DISPATCHES: list[tuple[str, Any, dict[str, Any], type[TaskoraError], tuple[str, ...]]] = [
    ("deep nesting", _deeply_nested(), {}, SerializationError, ("nested",)),
    ("lone surrogate", {"name": "caf\ud800"}, {}, SerializationError, ("surrogate", "\\ud800")),
    ("surrogate in a key", {"\udcff": 1}, {}, SerializationError, ("surrogate",)),
    ("meta not a dict", 1, {"meta": "abc"}, ConfigurationError, ("meta", "'abc'")),
    ("empty job id", 1, {"job_id": ""}, ConfigurationError, ("job_id", "''")),
    ("blank job id", 1, {"job_id": "  "}, ConfigurationError, ("job_id",)),
    ("job id of a queue key", 1, {"job_id": "wait"}, ConfigurationError, ("job_id", "'wait'", "reserved")),
    ("job id of a lock key", 1, {"job_id": "x:lock"}, ConfigurationError, ("job_id", "reserved")),
    ("job id of a list", 1, {"job_id": ["a"]}, ConfigurationError, ("job_id", "list")),
    ("delay not a duration", 1, {"delay": "abc"}, ConfigurationError, ("delay", "'abc'")),
    ("delay overflow", 1, {"delay": 1e30}, ConfigurationError, ("delay", "1e+30", "out of range")),
    ("delay huge int", 1, {"delay": 10**400}, ConfigurationError, ("delay", "out of range")),
    ("delay negative", 1, {"delay": -1}, ConfigurationError, ("delay", "negative")),
    ("delay NaN", 1, {"delay": math.nan}, ConfigurationError, ("delay", "nan")),
    ("delay inf", 1, {"delay": math.inf}, ConfigurationError, ("delay", "inf")),
    ("ttl overflow", 1, {"ttl": 1e30}, ConfigurationError, ("ttl", "out of range")),
    ("ttl negative", 1, {"ttl": "-5s"}, ConfigurationError, ("ttl", "'-5s'")),
    ("priority text", 1, {"priority": "x"}, ConfigurationError, ("priority", "'x'")),
    ("priority too high", 1, {"priority": 1001}, ConfigurationError, ("priority", "-1000 to 1000", "1001")),
    ("priority too low", 1, {"priority": -1001}, ConfigurationError, ("priority", "-1000 to 1000", "-1001")),
    ("priority None", 1, {"priority": None}, ConfigurationError, ("priority", "None")),
    ("unknown beside flow", 1, {"deduplicate": {"key": "k"}, "retries": 3}, ConfigurationError, ("retries",)),
    ("meta value surrogate", 1, {"meta": {"a": "\ud800"}}, ConfigurationError, ("meta['a']", "surrogate")),
    ("meta name surrogate", 1, {"meta": {"\ud800": 1}}, ConfigurationError, ("meta field name", "surrogate")),
    ("job id surrogate", 1, {"job_id": "\ud800"}, ConfigurationError, ("job_id", "surrogate")),
]


@pytest.mark.parametrize(("data", "options", "error", "words"), [case[1:] for case in BAD_DISPATCHES],
                         ids=[case[0] for case in BAD_DISPATCHES])
def test_bad_dispatch_raises_naming_the_value_and_writes_nothing(app: Taskora, data: Any, options: dict[str, Any],
                                                                 error: type[TaskoraError],
                                                                 words: tuple[str, ...]) -> None:  # fmt: skip
    echo = app.task("echo", lambda d: d)
    with pytest.raises(error) as raised:
        echo.dispatch(data, **options)
    for word in words:
        assert word in str(raised.value), str(raised.value)
    with pytest.raises(error):
        echo.dispatch_many([1, (data, options)])  # a bad item fails the batch: not even the good one is sent
    assert _task_keys(app, "echo") == []
    assert sum(app.adapter.counts("echo").values()) == 0


def test_options_given_as_none_are_options_not_given(app: Taskora) -> None:
    echo = app.task("echo", lambda d: d)
    handle = echo.dispatch(1, job_id=None, delay=None, meta=None, ttl=None, deduplicate=None)
    assert handle.enqueued and handle.state() == "waiting"
    assert app.adapter.counts("echo")["waiting"] == 1


def test_a_good_job_id_is_used_as_given(app: Taskora) -> None:
    echo = app.task("echo", lambda d: d)
    assert echo.dispatch(1, job_id=42).id == "42"
    assert echo.dispatch(1, job_id="order:7").id == "order:7"
    assert app.adapter.counts("echo")["waiting"] == 2


@pytest.mark.parametrize("declare", [
    lambda app: app.task("")(lambda d: d),
    lambda app: app.task("", lambda d: d),
    lambda app: app.task("   ", lambda d: d),
    lambda app: app.task("a{b}", lambda d: d),
], ids=["decorator", "call", "blank", "braces"])
def test_an_empty_task_name_is_refused_not_replaced_by_the_function_name(app: Taskora,
                                                                         declare: Callable[[Taskora], Any]) -> None:
    with pytest.raises(ConfigurationError, match="task name"):
        declare(app)
    assert app.tasks == {}


@pytest.mark.parametrize(("value", "words"), [(-1, "negative"), (math.nan, "finite"), (math.inf, "finite"),
                                              (1e30, "out of range"), ("soon", "'soon'"), (0, "more than 0")])
def test_bad_task_timeouts_are_refused_at_declaration(app: Taskora, value: Any, words: str) -> None:
    with pytest.raises(ConfigurationError, match="timeout") as raised:
        app.task("slow", lambda d: d, timeout=value)
    assert words in str(raised.value)
    if value != 0:  # a retry delay of 0 is fine: retry at once
        with pytest.raises(ConfigurationError, match="retry.delay"):
            app.task("slow", lambda d: d, retry={"attempts": 2, "delay": value})
    assert app.tasks == {}


@pytest.mark.parametrize(("options", "words"), [({"meta": "abc"}, "meta"), ({"job_id": ""}, "job_id"),
                                                ({"delay": 1e30}, "delay"), ({"job_id": "events"}, "reserved")])
def test_bad_workflow_step_options_raise_and_write_nothing(app: Taskora, options: dict[str, Any], words: str) -> None:
    from taskora.workflow import chain

    echo = app.task("echo", lambda d: d)
    with pytest.raises(ConfigurationError, match=words):
        chain(echo.s(1), echo.s(2, **options)).dispatch()
    assert _task_keys(app, "echo") == []
    assert list(app.adapter.client.keys("taskora:wf:*")) == []


@pytest.mark.parametrize(("make", "words"), [
    (lambda app: Taskora(app.adapter, retention={"completed": {"max_items": "abc"}}), "retention.completed.max_items"),
    (lambda app: Taskora(app.adapter, retention={"failed": {"max_items": -1}}), "retention.failed.max_items"),
    (lambda app: app.task("caf\udce9", lambda d: d), "surrogate"),
    (lambda app: app.start(concurrency="x"), "concurrency"),
], ids=["retention text", "retention negative", "task name surrogate", "start concurrency"])
def test_bad_app_settings_raise_naming_the_setting(app: Taskora, make: Callable[[Taskora], Any], words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        make(app)


# -- a retry that cannot be scheduled fails the job; it never stays active ---------------------------------

def _raise(error: BaseException) -> Any:
    raise error


@pytest.mark.parametrize(("handler", "retry", "why"), [
    (lambda d: _raise(RetryError("again", delay=math.nan)), 3, "finite"),
    (lambda d: _raise(RetryError("again", delay=1e300)), 3, "out of range"),
    (lambda d: _raise(RetryError("again", data=object())), 3, "cannot serialize"),
    (lambda d: 1 / 0, {"attempts": 3, "backoff": lambda attempt: math.inf}, "finite"),
    (lambda d: 1 / 0, {"attempts": 3, "backoff": lambda attempt: "soon"}, "'soon'"),
], ids=["RetryError NaN", "RetryError huge", "RetryError unserializable data", "backoff inf", "backoff text"])
def test_a_retry_with_a_bad_delay_fails_the_job_saying_why(app: Taskora, handler: Callable[[Any], Any], retry: Any,
                                                           why: str) -> None:  # fmt: skip
    flaky = app.task("flaky", handler, retry=retry)
    app.start()
    handle = flaky.dispatch(1)
    with pytest.raises(JobFailedError, match="not retried") as raised:
        handle.result(timeout=10)
    assert why in str(raised.value)
    assert handle.state() == "failed"


# -- waiting on a job that does not exist ---------------------------------------------------------------

def _finishes(call: Callable[[], Any], within: float = 5.0) -> Any:
    """Run ``call`` in a daemon thread and return what it raised (or returned); fail if it is still waiting."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)  # a hung wait must not keep the test process alive
    thread.start()
    thread.join(within)
    if not outcome:
        pytest.fail(f"still waiting after {within}s")
    return outcome[0]


def test_a_wait_on_a_job_trimmed_before_it_raises_at_once(app: Taskora) -> None:
    # Given a job that finished and was trimmed by retention before anyone waited on it
    app.task("echo", lambda d: d)
    handle = app.dispatch("echo", 1)
    app.start()
    assert handle.result(timeout=10) == 1
    app.adapter.trim("echo", completed_age_ms=0, completed_count=0, failed_age_ms=0, failed_count=0)
    # Then a bounded wait on it raises JobNotFoundError at once, not when its 60 s run out
    raised = _finishes(lambda: app.handle("echo", handle.id).result(timeout=60), 10)
    assert isinstance(raised, JobNotFoundError), raised


def test_an_unbounded_wait_ends_when_its_job_is_removed(app: Taskora) -> None:
    # Given a waiting job, and waits without a timeout on it (no worker runs it)
    app.task("echo", lambda d: d)
    job_id = app.dispatch("echo", 1).id
    handle = app.handle("echo", job_id)
    handle.RECHECK_S = 0.2
    ahandle = app.handle("echo", job_id)
    ahandle.RECHECK_S = 0.2
    waits = [lambda: handle.result(), lambda: asyncio.run(ahandle.aresult())]
    outcomes: list[BaseException] = []
    threads = [threading.Thread(target=lambda w=w: outcomes.append(_raised(w)), daemon=True) for w in waits]
    for thread in threads:
        thread.start()
    # When the job is removed (as retention trims a finished job) while they wait
    assert app.adapter.purge("echo") == 1
    # Then both waits end with JobNotFoundError instead of waiting forever
    for thread in threads:
        thread.join(10)
    assert [type(o) for o in outcomes] == [JobNotFoundError, JobNotFoundError], outcomes


def _raised(fn: Callable[[], Any]) -> BaseException:
    try:
        fn()
    except BaseException as exc:
        return exc
    return AssertionError("returned")


def test_result_of_an_unknown_id_raises_at_once(app: Taskora) -> None:
    app.task("echo", lambda d: d)
    raised = _finishes(lambda: app.handle("echo", "no-such-job").result())
    assert isinstance(raised, JobNotFoundError) and "'no-such-job'" in str(raised) and "echo" in str(raised)
    raised = _finishes(lambda: asyncio.run(app.handle("echo", "no-such-job").aresult()))
    assert isinstance(raised, JobNotFoundError)
    # with a timeout the wait costs no extra round trip; when it runs out, the missing job is named
    with pytest.raises(JobNotFoundError, match="no-such-job"):
        app.handle("echo", "no-such-job").result(timeout=0.2)
    with pytest.raises(JobNotFoundError, match="no-such-job"):
        asyncio.run(app.handle("echo", "no-such-job").aresult(timeout=0.2))


def test_a_timeout_on_a_job_that_exists_is_still_a_timeout(app: Taskora) -> None:
    echo = app.task("echo", lambda d: d)  # no worker: the job waits
    with pytest.raises(TimeoutError):
        echo.dispatch(1).result(timeout=0.2)
    with pytest.raises(TimeoutError):
        app.handle("echo", echo.dispatch(2).id).result(timeout=0.2)


def test_result_by_id_still_waits_for_a_job_that_exists(app: Taskora) -> None:
    echo = app.task("echo", lambda d: d)
    job_id = echo.dispatch("hi").id
    app.start()
    assert app.handle("echo", job_id).result(timeout=10) == "hi"


# -- secrets in URLs --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:s3cret@cache:6379/0", "redis://:****@cache:6379/0"),
    ("redis://user:s3cret@cache:6379/0", "redis://user:****@cache:6379/0"),
    ("rediss://user:p@ss:w@cache:6380/1", "rediss://user:****@cache:6380/1"),
    ("redis://cache:6379/0?password=s3cret&ssl_cert_reqs=none", "redis://cache:6379/0?password=****&ssl_cert_reqs=none"),
    ("redis://:a@cache/0?Password=b", "redis://:****@cache/0?Password=****"),
    ("unix:///run/redis.sock?db=2&password=s3cret", "unix:///run/redis.sock?db=2&password=****"),
    ("redis://user@cache:6379/0", "redis://user@cache:6379/0"),
    ("redis://cache:6379/0", "redis://cache:6379/0"),
    ("memory://", "memory://"),
])
def test_mask_url_hides_passwords_only(url: str, shown: str) -> None:
    assert mask_url(url) == shown


@pytest.mark.parametrize("url", ["redis://:s3cret@127.0.0.1:1/0", "redis://admin:s3cret@127.0.0.1:1/0",
                                 "redis://127.0.0.1:1/0?password=s3cret"])
def test_app_repr_address_and_errors_never_show_the_password(url: str) -> None:
    app = Taskora(url)
    assert "s3cret" not in repr(app) and "****" in repr(app)
    assert "s3cret" not in app.adapter.address
    with pytest.raises(BrokerUnreachableError) as raised:
        app.adapter.connect()
    assert "s3cret" not in str(raised.value) and "127.0.0.1:1" in str(raised.value)


@pytest.fixture(scope="module")
def locked_redis() -> Iterator[RedisServer]:
    """A redis-server that requires the password ``s3cret``."""
    server = RedisServer(extra_args=("--requirepass", "s3cret")).start()
    yield server
    server.stop()


@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_the_worker_banner_and_status_show_the_url_masked(locked_redis: RedisServer, tmp_path: Path,
                                                          form: str) -> None:
    base = f"127.0.0.1:{locked_redis.port}/0"
    url = f"redis://:s3cret@{base}" if form == "userinfo" else f"redis://{base}?password=s3cret"
    client = client_app(url)
    worker = WorkerProcess(url, tmp_path, "-P", "solo")
    try:
        worker.wait_ready(client)
        status = run_cli(url, tmp_path, "status", "-A", PROJ, "--json", "-t", "0.5")
        assert status.returncode == 0, status.stderr
    finally:
        worker.stop()
        client.close()
    assert mask_url(url) in worker.log() and "****" in mask_url(url)
    assert "s3cret" not in worker.log() + status.stdout + status.stderr


def test_a_wrong_password_is_exit_3_naming_the_masked_url(locked_redis: RedisServer, tmp_path: Path) -> None:
    url = f"redis://:wrong-s3cret@127.0.0.1:{locked_redis.port}/0"
    out = _worker_exit(url, tmp_path)
    assert out.returncode == 3, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and mask_url(url) in out.stderr, out.stderr
    assert "s3cret" not in out.stderr + out.stdout


# -- pickle is opt-in -------------------------------------------------------------------------------------

def test_pickle_serializer_needs_an_explicit_opt_in(make_app: Callable[..., Taskora]) -> None:
    with pytest.raises(ConfigurationError, match="allow_pickle"):
        make_app(serializer="pickle")
    app = make_app(serializer="pickle", allow_pickle=True)
    echo = app.task("echo", lambda d: d)
    app.start()
    assert echo.dispatch({"a": {1, 2}}).result(timeout=10) == {"a": {1, 2}}


# -- a broker that is not a usable Redis -----------------------------------------------------------------

@pytest.fixture
def not_redis() -> Iterator[str]:
    """A TCP server on loopback that answers every connection with an HTTP error, as a web server would."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"redis://:s3cret@127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    server.shutdown(socket.SHUT_RDWR)  # wakes the accept() the thread is blocked in (a close alone does not)
    server.close()
    thread.join(5)


def test_a_server_that_is_not_redis_is_unreachable_naming_the_masked_url(not_redis: str) -> None:
    with pytest.raises(BrokerUnreachableError, match="does not speak the Redis protocol") as raised:
        redis_adapter(not_redis).connect()
    assert mask_url(not_redis) in str(raised.value) and "s3cret" not in str(raised.value)


def test_a_database_index_out_of_range_is_unreachable(redis_server: Any) -> None:
    url = redis_server.url.rsplit("/", 1)[0].replace("redis://", "redis://:s3cret@", 1) + "/999"
    with pytest.raises(BrokerUnreachableError, match="DB index is out of range") as raised:
        redis_adapter(url).connect()
    assert "/999" in str(raised.value) and "s3cret" not in str(raised.value)


def _worker_exit(url: str, tmp_path: Path) -> Any:
    return run_cli(url, tmp_path, "worker", "-A", PROJ, "-P", "solo", timeout=60)


def test_worker_on_a_non_redis_server_exits_3_with_one_line(not_redis: str, tmp_path: Path) -> None:
    out = _worker_exit(not_redis, tmp_path)
    assert out.returncode == 3, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "does not speak the Redis protocol" in out.stderr and mask_url(not_redis) in out.stderr
    assert "s3cret" not in out.stderr + out.stdout


def test_worker_on_a_missing_database_exits_3_with_one_line(redis_server: Any, tmp_path: Path) -> None:
    url = redis_server.url.rsplit("/", 1)[0] + "/999"
    out = _worker_exit(url, tmp_path)
    assert out.returncode == 3, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "DB index is out of range" in out.stderr, out.stderr


@pytest.mark.parametrize(("url", "words"), [
    ("redis://:s3cret@cache:abc/0", "Port"),
    ("redis://:s3cret@cache:99999/0", "Port out of range"),
    ("redis://:s3cret@cache:6379/abc", "database must be a number"),  # redis-py would quietly use database 0
    ("redis://:s3cret@cache:6379/0?socket_timeout=soon", "socket_timeout"),
    ("redis://:s3cret@[::1/0", "IPv6"),
])
def test_an_unreadable_broker_url_is_a_configuration_error_with_the_password_masked(url: str, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words) as raised:
        Taskora(url)
    assert "redis://:****@" in str(raised.value) and "s3cret" not in str(raised.value)
