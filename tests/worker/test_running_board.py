"""The running board a prefork child leaves its supervisor: running jobs, and completions a batch still owed."""

from __future__ import annotations

from taskora.worker.running_board import HALF_SIZE, RunningBoard


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
