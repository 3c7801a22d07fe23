"""The running board a prefork child leaves its supervisor: running jobs, and completions a batch still owed."""

from __future__ import annotations

import pytest

from taskora.worker import running_board
from taskora.worker.running_board import HALF_SIZE, CompletionRoom, RunningBoard


def test_the_board_carries_running_jobs_and_unsent_completions_with_their_results() -> None:
    board = RunningBoard()
    board.write({"a": ("t", "tok-a", 2)}, {"b": ("t", "tok-b", True, b"\x00\xff{}"), "c": ("t", "tok-c", False, "")})
    assert board.read() == {"a": ("t", "tok-a", 2)}
    assert board.read_finished() == {"b": ("t", "tok-b", True, b"\x00\xff{}"), "c": ("t", "tok-c", False, "")}
    board.write({}, {"d": ("t", "tok-d", True, '"text"')})
    assert board.read() == {}
    assert board.read_finished() == {"d": ("t", "tok-d", True, '"text"')}  # str stays str, bytes stay bytes


def test_a_board_too_large_keeps_the_last_complete_one() -> None:
    board = RunningBoard()
    board.write({}, {"b": ("t", "tok-b", True, "ok")})
    assert not board.write({}, {"big": ("t", "tok", True, "x" * HALF_SIZE)})
    assert board.read_finished() == {"b": ("t", "tok-b", True, "ok")}


def test_a_full_completions_part_never_hides_a_running_job() -> None:
    board = RunningBoard()
    assert not board.write({}, {"big": ("t", "tok", True, "x" * HALF_SIZE)})
    assert board.write({"a": ("t", "tok-a", 1)}, {})
    assert board.read() == {"a": ("t", "tok-a", 1)}


def test_the_room_admits_completions_exactly_while_the_board_holds_them() -> None:
    # Given a board and its room, and completions with results of a size that several but not all fit
    board, room = RunningBoard(), CompletionRoom()
    finished: dict[str, tuple[str, str, bool, str | bytes]] = {}
    for i in range(HALF_SIZE // 256):
        entry = ("task", f"tok-{i}", True, "\u00e9" * 60)  # escaped by JSON: 360 bytes on the board
        if not room.take(f"job-{i}", entry):
            break
        finished[f"job-{i}"] = entry
        # Then every completion the room admitted is on the board
        assert board.write({}, finished)
        assert board.read_finished() == finished
    else:
        raise AssertionError("the room admitted more than a half of the board holds")
    # and one that did not fit fits once others were recorded and dropped
    assert not room.take("late", ("task", "tok", True, "\u00e9" * 60))
    room.give_back(["job-0", "job-1"])
    assert room.take("late", ("task", "tok", True, "\u00e9" * 60))


def test_a_deferred_completion_is_read_as_completed_though_the_running_part_still_names_it() -> None:
    # Given a job that started, then completed with its completion waiting (only the completions' part is written)
    board = RunningBoard()
    assert board.started("a", ("t", "tok-a", 1))
    assert board.deferred("a", ("t", "tok-a", True, "ok"))
    # Then a supervisor reading the board records it, and does not take it for a running job
    assert board.read() == {}
    assert board.read_finished() == {"a": ("t", "tok-a", True, "ok")}
    # and the next job's start leaves only that job running
    assert board.started("b", ("t", "tok-b", 1))
    assert board.read() == {"b": ("t", "tok-b", 1)}


def test_a_recorded_completion_leaves_neither_part_naming_its_job() -> None:
    board = RunningBoard()
    board.started("a", ("t", "tok-a", 1))
    board.deferred("a", ("t", "tok-a", False, ""))
    board.recorded(["a"])
    assert board.read() == {}
    assert board.read_finished() == {}


def test_a_completion_too_large_for_the_board_leaves_its_job_running(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a small board whose completions' part already holds one completion
    monkeypatch.setattr(running_board, "HALF_SIZE", 200)
    board = RunningBoard()
    board.started("a", ("t", "tok-a", 1))
    assert board.deferred("a", ("t", "tok-a", True, "ok"))
    board.started("b", ("t", "tok-b", 1))
    # When the next completion does not fit
    assert not board.deferred("b", ("t", "tok-b", True, "x" * 200))
    # Then the board still names that job running (a death runs it again) and keeps the earlier completion
    assert board.read() == {"b": ("t", "tok-b", 1)}
    assert board.read_finished() == {"a": ("t", "tok-a", True, "ok")}
    # and the part keeps taking completions that fit
    board.ended("b")
    assert board.deferred("c", ("t", "tok-c", True, "ok"))
    assert set(board.read_finished()) == {"a", "c"}
