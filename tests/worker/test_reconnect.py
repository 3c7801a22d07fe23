"""The outage record logs an outage once and its end once, and is not fooled by calls under way when it began."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from taskora.adapters.redis import CONNECTION_ERRORS
from taskora.worker.reconnect import GaveUp, Outage, once, until_done

URL = "redis://:s3cret@cache:6379/0"


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name == "taskora.worker"]


def test_many_failures_are_one_warning_and_one_recovery(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage()
    with caplog.at_level(logging.DEBUG, logger="taskora.worker"):
        for _ in range(50):
            outage.lost(URL, ConnectionError("refused"))
        outage.back()
        outage.back()
    assert _messages(caplog, logging.WARNING) == ["Redis unreachable at redis://:****@cache:6379/0: refused; retrying"]
    [recovered] = _messages(caplog, logging.INFO)
    assert recovered.startswith("Redis reachable again after ") and recovered.endswith(" s")


def test_calls_under_way_when_the_outage_began_or_ended_say_nothing(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage()
    with caplog.at_level(logging.INFO, logger="taskora.worker"):
        before = time.monotonic()
        outage.lost(URL, ConnectionError("reset"))
        outage.back(started=before)  # a reply that was on its way before the outage: still down
        assert outage.down
        during = time.monotonic()
        outage.back(started=during)
        outage.lost(URL, ConnectionError("stale connection"), started=during)  # broken by the outage: no new one
        assert not outage.down
    assert len(_messages(caplog, logging.WARNING)) == 1 and len(_messages(caplog, logging.INFO)) == 1


def test_failures_after_a_stop_cut_the_connections_are_the_cuts_not_an_outage(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A stop that cuts its connections (stop_wake.py) breaks its own listeners' reads: no outage to warn about
    for that address then; another address, or the same one once the quiet window is over, still warns."""
    outage = Outage()
    with caplog.at_level(logging.DEBUG, logger="taskora.worker"):
        outage.cut(URL)
        outage.lost(URL, ConnectionError("Connection closed by server."))
        assert not outage.down and _messages(caplog, logging.WARNING) == []
        assert any("after this worker cut it to stop" in m for m in _messages(caplog, logging.DEBUG))
        outage.lost("redis://other:6379/0", ConnectionError("refused"))
        monkeypatch.setattr("taskora.worker.reconnect.CUT_QUIET_S", 0.0)
        later = Outage()
        later.cut(URL)
        later.lost(URL, ConnectionError("refused"))
    assert _messages(caplog, logging.WARNING) == ["Redis unreachable at redis://other:6379/0: refused; retrying",
                                                  "Redis unreachable at redis://:****@cache:6379/0: refused; retrying"]


def test_once_and_until_done_report_to_the_process_record() -> None:
    def refused() -> None:
        raise CONNECTION_ERRORS[0]("refused")

    assert once(URL, refused) is None
    assert once(URL, lambda: 7) == 7
    give_up = threading.Event()
    give_up.set()
    with pytest.raises(GaveUp, match="refused"):
        until_done(URL, refused, give_up)
    assert until_done(URL, lambda: "done", give_up) == "done"
