"""The overview's counts are shared by every open page (#18): read at most once a second however many people
watch, at most a second stale, and cleared by the board's own actions."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from taskora import Taskora
from taskora.board.shared_reads import OVERVIEW_TTL_S

from .helpers import board_client


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counted(app: Taskora, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The task names whose counts were read from the engine, one entry per read."""
    reads: list[str] = []
    real = app.adapter.counts

    def counts(task: str) -> dict[str, int]:
        reads.append(task)
        return real(task)

    monkeypatch.setattr(app.adapter, "counts", counts)
    return reads


def _shared_board(app: Taskora) -> tuple[Any, str, Clock]:
    client, csrf = board_client(app)
    clock = Clock()
    client.app.state.board.shared.clock = clock  # type: ignore[attr-defined]
    return client, csrf, clock


def test_many_pages_at_once_read_the_counts_once_per_second(app: Taskora, counted: list[str]) -> None:
    app.register_task("a", None)
    app.register_task("b", None)
    client, _csrf, clock = _shared_board(app)
    answers: list[dict[str, Any]] = []

    def watch() -> None:
        answers.append(client.get("/api/overview").json())

    watchers = [threading.Thread(target=watch) for _ in range(12)]
    for watcher in watchers:
        watcher.start()
    for watcher in watchers:
        watcher.join()
    assert len(answers) == 12 and sorted(counted) == ["a", "b"]

    clock.now += OVERVIEW_TTL_S
    client.get("/api/overview")
    assert sorted(counted) == ["a", "a", "b", "b"]


def test_the_overview_is_at_most_a_second_stale(app: Taskora) -> None:
    task = app.register_task("a", None)
    client, _csrf, clock = _shared_board(app)
    assert client.get("/api/overview").json()["tasks"]["a"]["waiting"] == 0

    task.dispatch(1)  # by a producer, not through the board
    clock.now += OVERVIEW_TTL_S * 0.9
    assert client.get("/api/overview").json()["tasks"]["a"]["waiting"] == 0
    clock.now += OVERVIEW_TTL_S * 0.1
    assert client.get("/api/overview").json()["tasks"]["a"]["waiting"] == 1


def test_an_action_of_the_board_shows_at_once(app: Taskora) -> None:
    task = app.register_task("a", None)
    task.dispatch(1)
    client, csrf, _clock = _shared_board(app)
    assert client.get("/api/overview").json()["tasks"]["a"]["waiting"] == 1

    assert client.post("/api/tasks/a/purge", headers={"X-CSRF-Token": csrf}).json()["deleted"] == 1
    assert client.get("/api/overview").json()["tasks"]["a"]["waiting"] == 0
