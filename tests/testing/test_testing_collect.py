"""TestRunner and the time-based flow options: collect buffers forced out by ``flush`` and made due by
``advance_time`` (delay and max_wait), and debounce windows advanced on the virtual clock."""

from __future__ import annotations

from typing import Any

import pytest

from taskora.errors import ConfigurationError
from taskora.testing import TestRunner

T0 = 1_700_000_000_000


def collecting(runner: TestRunner, **collect: Any) -> tuple[Any, list[tuple[int, list[Any]]]]:
    """A collect task whose handler records (virtual time, batch)."""
    batches: list[tuple[int, list[Any]]] = []
    config = {"key": lambda item: item["k"], "delay": "1h", **collect}
    task = runner.task("col", lambda items: batches.append((runner.clock.now_ms(), items)), collect=config)
    return task, batches


def test_flush_forces_one_buffer_out_and_runs_the_batch() -> None:
    runner = TestRunner(start_ms=T0)
    col, batches = collecting(runner)
    for n in range(3):
        col.dispatch({"k": "a", "n": n})
    col.dispatch({"k": "b", "n": 9})

    assert runner.flush(col, "a") == 1
    assert batches == [(T0, [{"k": "a", "n": 0}, {"k": "a", "n": 1}, {"k": "a", "n": 2}])]
    assert col.peek_collect("a") == [] and col.peek_collect("b") == [{"k": "b", "n": 9}]
    assert runner.advance_time("2h") == 1  # a's dropped timer runs nothing; b's fires at its time
    assert batches[1:] == [(T0 + 3_600_000, [{"k": "b", "n": 9}])]
    runner.dispose()


def test_flush_without_a_key_forces_every_buffer_out() -> None:
    runner = TestRunner(start_ms=T0)
    col, batches = collecting(runner)
    col.dispatch({"k": "a"}), col.dispatch({"k": "b"}), col.dispatch({"k": "a", "again": True})

    assert runner.flush("col") == 2
    assert sorted(len(items) for _, items in batches) == [1, 2]
    assert runner.flush("col") == 0  # nothing left, and a collect task is never an error
    assert runner.advance_time("2h") == 0
    runner.dispose()


def test_flush_of_a_task_without_buffers_says_so() -> None:
    runner = TestRunner()
    runner.task("plain", lambda data: data)
    with pytest.raises(ConfigurationError, match="flush\\('plain'\\).*no collect option"):
        runner.flush("plain")
    runner.dispose()


def test_advance_time_flushes_by_delay_and_by_max_wait_at_their_moments() -> None:
    runner = TestRunner(start_ms=T0)
    col, batches = collecting(runner, delay="10s", max_wait="25s")
    col.dispatch({"k": "a", "n": 1})
    runner.advance_time("8s")
    col.dispatch({"k": "a", "n": 2})  # resets the delay: due at 18 s
    runner.advance_time("15s")
    assert batches == [(T0 + 18_000, [{"k": "a", "n": 1}, {"k": "a", "n": 2}])]

    for _ in range(4):  # an item every 8 s keeps resetting the delay; max_wait (25 s after the first) wins
        col.dispatch({"k": "b"})
        runner.advance_time("8s")
    assert batches[1] == (T0 + 23_000 + 25_000, [{"k": "b"}] * 4)
    runner.dispose()


def test_a_debounce_window_advances_with_the_virtual_clock() -> None:
    runner = TestRunner(start_ms=T0)
    ran: list[tuple[int, Any]] = []
    runner.task("save", lambda data: ran.append((runner.clock.now_ms(), data)))
    for n in range(5):
        runner.dispatch("save", n, debounce={"key": "doc-1", "delay": "2s"})
        runner.advance_time("1s")
    assert ran == []  # each dispatch pushed the window back

    assert runner.advance_time("2s") == 1
    assert ran == [(T0 + 4_000 + 2_000, 4)]  # only the last, at the end of its window
    runner.dispose()
