"""The bare hot-path connection (taskora/adapters/direct.py) against a real redis-server.

It replaces redis-py only for the worker's and producer's script calls, so it must open the same
connection redis-py would (password, ACL user, database, Unix socket), word errors the same way,
and recover from a restarted server.
"""

from __future__ import annotations

import gc
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator

import pytest
import redis
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

from taskora import Taskora
from taskora.adapters import reply_spin
from taskora.adapters.direct import DirectConnection
from taskora.adapters.reply_spin import MOST_SPIN_US, SPIN_VARIABLE
from taskora.adapters.scripts import ThreadConnections
from tests.redis_server import RedisServer, free_port
from tests.waiting import wait_until


@pytest.fixture(autouse=True, params=["sleeping", "spinning"])
def reply_wait(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every behaviour here holds whether a reply is waited for asleep or by spinning (adapters/reply_spin.py)."""
    if request.param == "spinning":
        monkeypatch.setenv(SPIN_VARIABLE, str(MOST_SPIN_US))
        monkeypatch.setattr(reply_spin, "_spinning_allowed", True)  # a worker started earlier turned it off
    return str(request.param)


def _pool(url: str) -> redis.ConnectionPool:
    return redis.Redis.from_url(url).connection_pool


def test_it_talks_to_the_database_of_the_url(redis_server: RedisServer) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/3"
    redis.Redis.from_url(url).flushdb()
    connection = DirectConnection(_pool(url))
    assert connection.call("SET", "direct-db", "three") == b"OK"
    assert redis.Redis.from_url(url).get("direct-db") == b"three"
    assert redis.Redis.from_url(redis_server.url).get("direct-db") is None


def test_error_replies_are_redis_py_exceptions_worded_as_redis_py_does(redis_url: str) -> None:
    connection = DirectConnection(_pool(redis_url))
    with pytest.raises(NoScriptError):
        connection.call("EVALSHA", "0" * 40, 0)
    with pytest.raises(ResponseError) as raised:
        connection.call("NOSUCHCOMMAND")
    assert not str(raised.value).startswith("ERR ")
    assert "NOSUCHCOMMAND" in str(raised.value).upper()
    assert connection.call("PING") == b"PONG"  # the connection is still usable after error replies


def test_a_restarted_server_costs_one_failed_call_then_the_thread_reconnects(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    runner = ThreadConnections(client)
    sha = client.script_load("return ARGV[1]")
    assert runner.evalsha(sha, 0, "before") == b"before"
    redis_server.restart()
    client.script_load("return ARGV[1]")  # the restarted server has an empty script cache
    # evalsha resends once on a fresh connection when one opened earlier has died
    assert runner.evalsha(sha, 0, "after") == b"after"


def test_an_unreachable_server_is_a_connection_error_that_names_it() -> None:
    port = free_port()
    connection = DirectConnection(_pool(f"redis://127.0.0.1:{port}/0"))
    with pytest.raises(RedisConnectionError, match=f"127.0.0.1:{port}"):
        connection.call("PING")
    assert not connection.is_connected


@pytest.fixture(scope="module")
def password_server() -> Iterator[RedisServer]:
    server = RedisServer(extra_args=("--requirepass", "s3cret", "--user", "alice", "on", ">alice-pw", "~*", "&*",
                                     "+@all")).start()  # fmt: skip
    yield server
    server.stop()


def test_password_and_acl_user_are_sent_like_redis_py_does(password_server: RedisServer) -> None:
    port = password_server.port
    assert DirectConnection(_pool(f"redis://:s3cret@127.0.0.1:{port}/0")).call("PING") == b"PONG"
    assert DirectConnection(_pool(f"redis://alice:alice-pw@127.0.0.1:{port}/0")).call("ACL", "WHOAMI") == b"alice"
    with pytest.raises(AuthenticationError, match=f"127.0.0.1:{port}"):
        DirectConnection(_pool(f"redis://:wrong@127.0.0.1:{port}/0")).call("PING")


def test_a_job_runs_end_to_end_on_a_password_protected_server(password_server: RedisServer) -> None:
    app = Taskora(f"redis://:s3cret@127.0.0.1:{password_server.port}/2")

    @app.task("direct-double")
    def double(data: int) -> int:
        return data * 2

    app.start()
    try:
        assert double.dispatch(21).result(timeout=10) == 42
    finally:
        app.close()


def test_unix_sockets_are_supported() -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="taskora-sock-"), "redis.sock")
    server = RedisServer(extra_args=("--unixsocket", path, "--unixsocketperm", "700")).start()
    try:
        pool = _pool(f"unix://{path}?db=1")
        assert DirectConnection.supports(pool)
        connection = DirectConnection(pool)
        connection.call("SET", "over-unix", "yes")
        assert redis.Redis(unix_socket_path=path, db=1).get("over-unix") == b"yes"
    finally:
        server.stop()


def test_tls_connections_are_direct_but_a_custom_connection_class_stays_with_redis_py() -> None:
    """TLS is wrapped by redis-py's own code (adapters/direct_tls.py; run over TLS in test_topology.py)."""
    assert DirectConnection.supports(redis.Redis.from_url("rediss://127.0.0.1:6390/0").connection_pool)

    class Custom(redis.SSLConnection):
        pass

    assert not DirectConnection.supports(redis.ConnectionPool(connection_class=Custom, host="127.0.0.1"))


def test_commands_sent_together_run_in_order_the_second_as_soon_as_a_blocked_first_ends(redis_url: str) -> None:
    connection = DirectConnection(_pool(redis_url))
    replies: list = []
    waiter = threading.Thread(target=lambda: replies.extend(
        connection.call_many([("BLPOP", "together", 5), ("LPUSH", "after-the-wait", "ran")])))
    waiter.start()
    client = redis.Redis.from_url(redis_url)
    client.rpush("together", "x")
    waiter.join(10)
    assert replies == [[b"together", b"x"], 1]
    assert client.lrange("after-the-wait", 0, -1) == [b"ran"]
    # an error reply is returned in its place, and the replies after it are still read
    failed, pong = connection.call_many([("EVALSHA", "0" * 40, 0), ("PING",)])
    assert isinstance(failed, NoScriptError) and pong == b"PONG"


def test_commands_sent_ahead_are_read_in_order_also_by_a_later_call(redis_url: str) -> None:
    connection = DirectConnection(_pool(redis_url))
    redis.Redis.from_url(redis_url).delete("sent-ahead")
    first, second = connection.send(("INCR", "sent-ahead"), ("EVALSHA", "0" * 40, 0))
    (third,) = connection.send(("INCR", "sent-ahead"))
    assert connection.call("GET", "sent-ahead") == b"2"  # reads the three replies before its own
    assert first.result() == 1 and third.result() == 2
    with pytest.raises(NoScriptError):
        second.result()


def test_commands_in_flight_fail_with_a_connection_error_when_the_connection_breaks(redis_url: str) -> None:
    connection = DirectConnection(_pool(redis_url))
    name = f"in-flight-{os.getpid()}"
    connection.call("CLIENT", "SETNAME", name)
    client = redis.Redis.from_url(redis_url)
    (pending,) = connection.send(("BLPOP", "never-pushed", 10))
    assert _kill_client_named(client, name) == 1
    with pytest.raises(RedisConnectionError):
        pending.result()
    assert connection.call("PING") == b"PONG"  # the next call opens a new connection


def _kill_client_named(client: redis.Redis, name: str) -> int:
    ids = [c["id"] for c in client.client_list() if c.get("name") == name]
    return sum(int(client.execute_command("CLIENT", "KILL", "ID", i)) for i in ids)


class _Interrupted(Exception):
    pass


def test_a_call_interrupted_before_its_reply_leaves_no_stale_reply_behind(redis_url: str) -> None:
    """A signal handler raising mid-read (a soft time limit does) must not leave the blocked command's reply
    to be read by the next call as its own."""
    import signal

    connection = DirectConnection(_pool(redis_url))

    def interrupt(signum: int, frame: object) -> None:
        raise _Interrupted()

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(_Interrupted):
            connection.call("BLPOP", "direct-nothing-here", "1")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert connection.call("PING") == b"PONG"
    assert connection.call("SET", "direct-after", "1") == b"OK"


def test_a_redis_loading_its_data_is_a_connection_error_to_wait_out() -> None:
    """A restarted Redis answers -LOADING while it replays its AOF: an outcome sent then must be kept and
    resent like one sent while Redis was down, not dropped as a failed script (it made jobs run twice)."""
    from taskora.adapters.base import CONNECTION_ERRORS
    from taskora.adapters.direct import _error

    assert isinstance(_error("LOADING Redis is loading the dataset in memory"), CONNECTION_ERRORS)
    assert not isinstance(_error("ERR unknown command"), CONNECTION_ERRORS)


def test_the_socket_timeout_is_the_kernels_so_no_poll_precedes_each_send_and_read(redis_url: str) -> None:
    """Python's own socket timeout polls before every send and recv (two system calls per round trip)."""
    connection = DirectConnection(redis.Redis.from_url(redis_url, socket_timeout=30).connection_pool)
    assert connection.call("PING") == b"PONG"
    assert connection._sock is not None and connection._sock.gettimeout() is None  # blocking: no poll


def test_a_server_that_never_answers_is_a_timeout_error_after_the_socket_timeout() -> None:
    """The kernel's timeout keeps redis-py's meaning: the call fails with TimeoutError naming the server."""
    import socket
    import time

    from redis.exceptions import TimeoutError as RedisTimeoutError

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never replies
        port = silent.getsockname()[1]
        pool = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.3).connection_pool
        connection = DirectConnection(pool)
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError, match=f"127.0.0.1:{port}"):
            connection.call("PING")
        assert 0.25 <= time.monotonic() - started < 5
        assert not connection.is_connected  # the next call opens a fresh connection



def test_without_hiredis_the_hot_path_stays_with_redis_py_and_jobs_still_run(redis_url: str) -> None:
    """hiredis is an extra, never a requirement: without it the bare connection is not used, nothing fails."""
    import subprocess
    import sys

    script = ("import sys\nsys.modules['hiredis'] = None\n"
              "from taskora import Taskora\n"
              "app = Taskora(sys.argv[1])\n"
              "double = app.task('double-no-hiredis')(lambda n: n * 2)\n"
              "handle = double.dispatch(21)\n"
              "print(type(app.adapter.runner._connection()).__name__, handle.enqueued)\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script, redis_url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["_PooledConnection", "True"]


def test_a_connection_collected_in_a_reference_cycle_closes_its_socket_without_a_warning(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A connection whose thread ended goes with its app, often in a cycle (a request in flight points back at
    it): the collector finalizes such garbage in no set order, and the socket must not warn that nobody closed it
    (a ResourceWarning, an error in this suite) before the connection closes it."""
    monitor = redis.Redis.from_url(redis_url)
    before = len(monitor.client_list())
    warned: list[str] = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *args, **kwargs: warned.append(str(message)))
    with warnings.catch_warnings():
        warnings.simplefilter("always", ResourceWarning)
        for _round in range(5):
            _connections_left_in_cycles(redis_url, 50)
            gc.collect()
    assert warned == []
    wait_until(lambda: len(monitor.client_list()) <= before, what="the server to see every connection closed")


def _connections_left_in_cycles(redis_url: str, count: int) -> None:
    connections = [DirectConnection(_pool(redis_url)) for _ in range(count)]
    for connection in connections:
        connection.call("PING")
        connection.send(("PING",))  # unread: the request in flight and its connection point at each other
