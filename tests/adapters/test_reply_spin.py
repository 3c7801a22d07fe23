"""``TASKORA_SPIN_US``: a direct connection that spins for a reply before it sleeps on the socket
(taskora/adapters/reply_spin.py). Every behaviour of the connection itself runs both ways in
test_direct_connection.py; here, when it spins, when it does not, and what the setting accepts."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis

from taskora import Taskora
from taskora.adapters import reply_spin
from taskora.adapters.direct import DirectConnection
from taskora.adapters.reply_spin import MOST_SPIN_US, SPIN_VARIABLE, ReplySpin, may_block, spin_budget_s
from taskora.errors import ConfigurationError

#: A Lua loop that keeps Redis from answering for about 30 ms: a reply slower than any budget allowed.
SLOW_SCRIPT = """local t = redis.call('TIME')
local start = t[1] * 1e6 + t[2]
repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] - start > 30000
return 'late'"""


@pytest.fixture
def spinning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SPIN_VARIABLE, "2000")
    monkeypatch.setattr(reply_spin, "_spinning_allowed", True)  # a worker started earlier in this process stops it


@pytest.fixture
def connection(redis_url: str, spinning: None) -> Iterator[DirectConnection]:
    direct = DirectConnection(redis.Redis.from_url(redis_url).connection_pool)
    yield direct
    direct.disconnect()


class CountedSpin(ReplySpin):
    """A ReplySpin that counts what its reads came back with."""

    def __init__(self, budget_s: float) -> None:
        super().__init__(budget_s)
        self.outcomes: list[bool] = []

    def receive(self, sock: socket.socket, buffer: bytearray) -> int | None:
        n = super().receive(sock, buffer)
        self.outcomes.append(n is not None)
        return n


@pytest.mark.parametrize("value", ["", "0"])
def test_spinning_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(SPIN_VARIABLE, value)
    assert spin_budget_s() == 0.0


def test_the_budget_is_read_in_microseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SPIN_VARIABLE, "150")
    assert spin_budget_s() == pytest.approx(150e-6)


@pytest.mark.parametrize("value", ["fast", "-5", "1.5", str(MOST_SPIN_US + 1)])
def test_a_bad_budget_is_refused_naming_the_variable_and_the_value(monkeypatch: pytest.MonkeyPatch,
                                                                   value: str) -> None:  # fmt: skip
    monkeypatch.setenv(SPIN_VARIABLE, value)
    with pytest.raises(ConfigurationError, match=f"{SPIN_VARIABLE} must be .*got '{value}'"):
        spin_budget_s()


def test_an_app_with_a_bad_budget_is_refused_when_it_is_made(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    monkeypatch.setenv(SPIN_VARIABLE, "fast")
    with pytest.raises(ConfigurationError, match=SPIN_VARIABLE):
        Taskora(redis_url)


def test_commands_that_wait_by_design_are_never_spun_for() -> None:
    assert may_block(("BZPOPMIN", "k", 1)) and may_block((b"blpop", "k", 1)) and may_block(("WAIT", 1, 0))
    assert may_block(("XREAD", "COUNT", 1, "BLOCK", 100, "STREAMS", "s", "$"))
    assert not may_block(("XREAD", "COUNT", 1, "STREAMS", "s", "0"))
    assert not may_block(("FCALL", "taskora_x_enqueue", 0)) and not may_block(("EVALSHA", "abc", 0))


def test_a_reply_is_read_by_spinning(connection: DirectConnection) -> None:
    connection.spin = spin = CountedSpin(connection.spin.budget_s)
    for _ in range(20):
        assert connection.call("PING") == b"PONG"
    assert any(spin.outcomes)  # a loaded machine may miss some: then the read sleeps, as below


def test_a_reply_slower_than_the_budget_is_read_by_sleeping_on_the_socket(connection: DirectConnection) -> None:
    connection.spin = spin = CountedSpin(connection.spin.budget_s)
    assert connection.call("EVAL", SLOW_SCRIPT, 0) == b"late"
    assert spin.outcomes[0] is False


def test_a_blocking_wait_sleeps_at_once(connection: DirectConnection) -> None:
    connection.spin = spin = CountedSpin(connection.spin.budget_s)
    assert connection.call("BZPOPMIN", "nothing-here", 0.05) is None
    assert connection.call_many([("BZPOPMIN", "nothing-here", 0.05), ("PING",)]) == [None, b"PONG"]
    assert spin.outcomes == []


def test_replies_read_later_are_spun_for_unless_they_block(connection: DirectConnection) -> None:
    connection.spin = spin = CountedSpin(connection.spin.budget_s)
    (waited,) = connection.send(("BZPOPMIN", "nothing-here", 0.05))
    assert waited.result() is None and spin.outcomes == []
    (pinged,) = connection.send(("PING",))
    assert pinged.result() == b"PONG" and len(spin.outcomes) == 1


def test_after_a_run_of_empty_spins_the_next_reads_sleep_at_once_then_spinning_is_tried_again() -> None:
    spin = ReplySpin(1e-6)
    ours, peer = socket.socketpair()
    with ours, peer:
        buffer = bytearray(16)
        for _ in range(ReplySpin.MISSES_TO_PAUSE):
            assert spin.receive(ours, buffer) is None  # nothing was sent: each spin comes back empty
        peer.sendall(b"+PONG\r\n")
        for _ in range(ReplySpin.PAUSE_READS):
            assert spin.receive(ours, buffer) is None  # paused: the caller sleeps on the socket instead
        assert spin.receive(ours, buffer) == 7


def test_a_tls_connection_never_spins(spinning: None) -> None:
    pool = redis.ConnectionPool.from_url("rediss://127.0.0.1:6390/0")
    assert DirectConnection(pool).spin.budget_s == 0.0


def test_a_worker_stops_spinning_in_its_process_and_jobs_still_run(redis_url: str, spinning: None) -> None:
    app = Taskora(redis_url)
    try:
        task = app.task("spun", lambda n: n + 1)
        assert ReplySpin(1e-3).wanted([("PING",)])
        handle = task.dispatch(1)  # sent by a producer that spins
        app.start()
        assert not ReplySpin(1e-3).wanted([("PING",)])
        assert handle.result(timeout=10) == 2
    finally:
        app.close()
