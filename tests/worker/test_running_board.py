"""The running board a prefork child leaves its supervisor: running jobs, and completions a batch still owed."""

from __future__ import annotations

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
