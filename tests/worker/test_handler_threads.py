"""Handler threads (taskora/worker/handler_threads.py): a handler with a time limit runs in a thread that is used
again once its handler ended in time, never once it overran; each handler starts with fresh context variables."""

from __future__ import annotations

import contextvars
import os
import threading

import pytest

from taskora import JobFailedError, Taskora
from taskora.worker import handler_threads

_seen: contextvars.ContextVar[str] = contextvars.ContextVar("_seen", default="unset")


def _finished(call):  # noqa: ANN001, ANN202 - a test helper
    run = handler_threads.start(call, "taskora-test")
    assert run.wait(5), "the handler did not end"
    return run


def test_a_handler_that_ended_in_time_leaves_its_thread_for_the_next() -> None:
    first = _finished(threading.get_ident)
    second = _finished(threading.get_ident)
    assert first.outcome() == second.outcome() != threading.get_ident()
    assert first.thread is second.thread and first.thread.name == "taskora-test"


def test_what_a_handler_raises_is_raised_by_its_outcome() -> None:
    def fail() -> None:
        raise KeyError("gone")

    run = _finished(fail)
    with pytest.raises(KeyError, match="gone"):
        run.outcome()
    assert _finished(lambda: 7).outcome() == 7  # the thread that ran it serves on


def test_an_overrun_handler_thread_is_never_used_again_and_ends_with_its_handler() -> None:
    """interrupt.py raises in an overrun handler's thread for as long as it runs, and a late interrupt may land
    after the handler ended: were that thread used again, it would end another job's handler."""
    release = threading.Event()
    overrun = handler_threads.start(lambda: release.wait(10), "taskora-test")
    assert not overrun.wait(0.05) and overrun.abandon()
    later = _finished(threading.get_ident)
    assert later.thread is not overrun.thread
    release.set()
    overrun.thread.join(5)
    assert not overrun.thread.is_alive(), "the overrun handler's thread did not end with its handler"
    assert _finished(threading.get_ident).thread is later.thread  # the pool holds the thread that ended in time


def test_abandoning_a_handler_that_just_ended_keeps_its_outcome() -> None:
    run = _finished(lambda: "done")
    assert not run.abandon()
    assert run.outcome() == "done"
    assert _finished(threading.get_ident).thread is run.thread


def test_each_handler_starts_with_fresh_context_variables() -> None:
    def set_and_read() -> tuple[str, str]:
        before = _seen.get()
        _seen.set("set by the first handler")
        return before, _seen.get()

    assert _finished(set_and_read).outcome() == ("unset", "set by the first handler")
    assert _finished(_seen.get).outcome() == "unset"


def test_an_idle_handler_thread_ends_after_its_idle_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler_threads, "IDLE_S", 0.05)
    monkeypatch.setattr(handler_threads, "_idle", [])
    run = _finished(lambda: None)
    run.thread.join(5)
    assert not run.thread.is_alive() and handler_threads._idle == []
    assert _finished(lambda: "new").outcome() == "new"  # a new thread is started for the next handler


def test_a_forked_child_starts_its_own_handler_threads() -> None:
    """A prefork child has none of its parent's threads: an idle one still listed would take a handler that nobody
    runs, and the job would time out without having run."""
    _finished(lambda: None)  # the parent now has an idle handler thread
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 when its handler ran
        run = handler_threads.start(lambda: 42, "taskora-test")
        os._exit(0 if run.wait(5) and run.outcome() == 42 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_jobs_with_a_timeout_run_one_after_another_on_one_handler_thread(app: Taskora) -> None:
    """Through the worker (both engines): each job with a ``timeout`` used to start a thread of its own."""
    task = app.task("where", lambda _data: threading.get_native_id(), timeout=30, concurrency=1)
    app.start()
    first = task.dispatch(None).result(timeout=10)
    assert [task.dispatch(None).result(timeout=10) for _ in range(3)] == [first] * 3


def test_after_a_timeout_the_next_job_runs_on_another_thread(app: Taskora) -> None:
    release = threading.Event()

    def maybe_stuck(stuck: bool) -> int:
        if stuck:
            release.wait(10)  # a blocking C call: the interrupt lands only when it returns
        return threading.get_native_id()  # the kernel's id: not given to a new thread as soon as one ends

    task = app.task("maybe_stuck", maybe_stuck, timeout="200ms", concurrency=1)
    app.start()
    stuck_thread = task.dispatch(False).result(timeout=10)
    with pytest.raises(JobFailedError, match="TimeoutError"):
        task.dispatch(True).result(timeout=10)
    assert task.dispatch(False).result(timeout=10) != stuck_thread  # that thread still runs the stuck handler
    release.set()
