"""The board's "Clean by age" (``POST /api/tasks/{task}/clean``) on both engines: what it deletes, the
TypeScript board's ``before`` parameter, and the refusals (login, CSRF, read-only, bad input)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from taskora import Taskora
from taskora.board import create_board
from taskora.clock import VirtualClock
from taskora.worker.loop import Worker

from .helpers import PASSWORD, board_client

KEEP_ALL = {"completed": {"max_age": "30d", "max_items": 100_000}, "failed": {"max_age": "30d", "max_items": 100_000}}
START_MS = 1_800_000_000_000


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START_MS)


@pytest.fixture
def aged(make_app: Callable[..., Taskora], clock: VirtualClock) -> Taskora:
    """Task ``report``: 3 jobs completed 2 hours ago, 2 a minute ago, one waiting."""
    app = make_app(clock=clock, retention=KEEP_ALL)
    app.task("report", lambda data: data)
    run = Worker(app, app.tasks.values()).run_until_idle
    for n in range(3):
        app.dispatch("report", n)
    run()
    clock.advance(2 * 3600 - 60)
    for n in range(2):
        app.dispatch("report", n)
    run()
    clock.advance(60)
    app.dispatch("report", "waiting")
    return app


def counts(app: Taskora) -> tuple[int, int]:
    found: dict[str, Any] = app.adapter.counts("report")
    return found["completed"], found["waiting"]


def test_clean_deletes_the_completed_jobs_older_than_the_age(aged: Taskora) -> None:
    client, csrf = board_client(aged)
    reply = client.post("/api/tasks/report/clean?state=completed&olderThan=1h", headers={"X-CSRF-Token": csrf})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"ok": True, "task": "report", "state": "completed", "count": 3}
    assert counts(aged) == (2, 1)
    page = client.get("/api/tasks/report/jobs?state=completed").json()
    assert page["total"] == 2 and len(page["jobs"]) == 2


def test_the_typescript_boards_before_parameter_and_its_default_of_now(aged: Taskora) -> None:
    client, csrf = board_client(aged)
    headers = {"X-CSRF-Token": csrf}
    assert client.post(f"/api/tasks/report/clean?before={START_MS}", headers=headers).json()["count"] == 3
    assert client.post("/api/tasks/report/clean?limit=1", headers=headers).json()["count"] == 1
    assert client.post("/api/tasks/report/clean", headers=headers).json()["count"] == 1
    assert counts(aged) == (0, 1)


@pytest.mark.parametrize(("query", "status", "message"), [
    ("state=active", 400, "only finished ones"),
    ("state=waiting&olderThan=0", 400, "only finished ones"),
    ("olderThan=soon", 400, "clean: older_than"),
    ("olderThan=1h&before=5", 400, "not both"),
    ("olderThan=", 400, "olderThan is empty"),
    ("olderThan=%20", 400, "olderThan is empty"),
    ("before=yesterday", 400, "before must be an integer"),
    ("limit=0", 400, "limit must be a positive integer"),
])
def test_bad_input_is_refused_and_nothing_is_deleted(aged: Taskora, query: str, status: int, message: str) -> None:
    client, csrf = board_client(aged)
    reply = client.post(f"/api/tasks/report/clean?{query}", headers={"X-CSRF-Token": csrf})
    assert reply.status_code == status and message in reply.json()["error"], reply.text
    assert counts(aged) == (5, 1)


def test_an_unknown_task_is_404(aged: Taskora) -> None:
    client, csrf = board_client(aged)
    assert client.post("/api/tasks/nope/clean", headers={"X-CSRF-Token": csrf}).status_code == 404


def test_login_csrf_and_read_only_are_respected(aged: Taskora) -> None:
    anonymous = TestClient(create_board(aged, auth=PASSWORD))
    assert anonymous.post("/api/tasks/report/clean?olderThan=0").status_code == 401
    client, csrf = board_client(aged)
    assert client.post("/api/tasks/report/clean?olderThan=0").status_code == 403
    assert client.post("/api/tasks/report/clean?olderThan=0", headers={"X-CSRF-Token": "forged"}).status_code == 403
    read_only, ro_csrf = board_client(aged, read_only=True)
    assert read_only.post("/api/tasks/report/clean?olderThan=0", headers={"X-CSRF-Token": ro_csrf}).status_code == 403
    assert counts(aged) == (5, 1)
