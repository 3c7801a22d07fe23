"""A job parked for a newer worker (taskora/version_handoff.py) goes from parked to a newer worker's slot in one
script (lua/claim_newer.lua), on both engines: a worker too old for it never claims it again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import taskora.version_handoff as version_handoff
from taskora import Taskora
from tests.waiting import wait_until


def _v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "subject": "(none)"}


def _sends(version: str, calls: list[Any]) -> Callable[[dict[str, Any]], str]:
    def send(data: dict[str, Any]) -> str:
        calls.append(data)
        time.sleep(0.02)  # a short job, so that a backlog keeps the slots busy for a while
        return f"{version} sent {data['to']}"

    return send


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_an_old_worker_never_claims_a_job_taken_back_for_a_newer_one(make_app: Callable[..., Taskora],
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     busy: bool) -> None:  # fmt: skip
    # Given a v2 job parked by a v1 worker with idle slots waiting (its backoff outlasts the test)
    monkeypatch.setattr(version_handoff, "BASE_MS", 60_000)
    newer = make_app().register_task("mail", None, version=2).dispatch({"to": "ann"})
    old_app = make_app()
    old_calls: list[Any] = []
    old_app.task("mail", _sends("v1", old_calls), concurrency=4)
    old_app.start()
    wait_until(lambda: newer.fields(["newerParks"]) == {"newerParks": "1"}, what="the v2 job parked")
    backlog = [make_app().register_task("mail", None, version=1).dispatch({"to": f"old{i}"})
               for i in range(40 if busy else 0)]  # busy: the v2 worker has jobs in its queue all along
    # When a v2 worker starts
    new_app = make_app()
    new_app.task("mail", _sends("v2", []), version=2, migrate={2: _v2}, concurrency=2)
    new_app.start()
    # Then it runs the job, and the v1 worker never claimed it again (it would have parked it a second time)
    assert newer.result(timeout=15) == "v2 sent ann"
    assert newer.fields(["newerParks", "attempt"]) == {"newerParks": "1", "attempt": "1"}
    for i, handle in enumerate(backlog):
        assert handle.result(timeout=15) in (f"v1 sent old{i}", f"v2 sent old{i}")
    assert {"to": "ann"} not in old_calls
