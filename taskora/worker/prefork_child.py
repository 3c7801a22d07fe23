"""The child side of the prefork pool: a forked process that runs a one-slot-per-task worker (for a Celery app,
or with ``--max-running``, under a budget: one job at a time, as Celery's child; budget.py) and keeps its
supervisor told which jobs it holds (see supervisor.py for the protocol and what the supervisor does with it).
"""

from __future__ import annotations

import ctypes
import logging
import os
import resource
import signal
import threading
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from ..sysinfo import cpu_budget
from . import liveness, main_thread
from .batches import BATCH_JOBS, batch_in_this_process
from .budget import reserve_bound
from .pools import StopSignals, ThreadPool, WorkerSettings, serve
from .running_board import RunningBoard
from .stop_wake import start_unless_stopped

log = logging.getLogger("taskora.worker.supervisor")

#: How often a busy child sends the supervisor its held jobs (a snapshot, only when it changed).
REPORT_EVERY_S = 0.05


class Reporter:
    """Inside a child: keeps the supervisor's view of its held jobs current; retires the child past its limits."""

    def __init__(self, conn: Connection, pool: ThreadPool, signals: StopSignals, board: RunningBoard) -> None:
        self.conn = conn
        self.board = board
        self.pool = pool
        self.signals = signals
        self.done = 0
        self._held: dict[str, tuple[str, str, int, float | None, float]] = {}
        self._claims: dict[str, str] = {}  # lock token of a claim sent ahead -> task
        self._reserved: set[str] = set()  # held, not started: claimed ahead or waiting for the budget
        self._changed = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._report_loop, name="taskora-reporter", daemon=True)
        self._thread.start()

    def _mark_changed(self) -> None:
        if not self._changed.is_set():  # set() takes a lock and notifies: skipped while a report is due anyway
            self._changed.set()

    def job_started(self, runtime: Any) -> None:
        hard = self.pool.limits.limits(runtime.task, runtime.fields.get).hard
        with self._lock:
            self._held[runtime.id] = (runtime.task_name, runtime.claimed.token, runtime.attempt, hard, time.monotonic())
            self._reserved.discard(runtime.id)
            # before the handler runs: a death is this job's
            self.board.started(runtime.id, (runtime.task_name, runtime.claimed.token, runtime.attempt))
        self._mark_changed()

    def job_reserved(self, job: Any) -> None:
        """A job claimed ahead or waiting for the budget (not started, so no time limit yet): handed back
        uncharged too should this child die (the supervisor requeues held jobs that were not running)."""
        with self._lock:
            self._held[job.id] = (job.task, job.token, int(job.fields.get("attempt", 1)), None, time.monotonic())
            self._reserved.add(job.id)
        self._mark_changed()

    def claim_sent(self, task: str, token: str) -> None:
        with self._lock:
            self._claims[token] = task
        self._mark_changed()

    def claim_read(self, token: str) -> None:
        with self._lock:
            self._claims.pop(token, None)
        self._mark_changed()

    def job_released(self, job: Any) -> None:
        with self._lock:
            self._held.pop(job.id, None)
            self._reserved.discard(job.id)
        self._mark_changed()

    def job_finished(self, runtime: Any, outcome: Any) -> None:
        with self._lock:
            self._held.pop(runtime.id, None)
            self._reserved.discard(runtime.id)
            self.board.ended(runtime.id)
            self.done += 1
        self._mark_changed()
        s = self.pool.settings
        if s.max_tasks_per_child and self.done >= s.max_tasks_per_child and not self.signals.terms:
            log.info("child pid %d ran %d task(s) (--max-tasks-per-child); replacing it", os.getpid(), self.done)
            self._retire()
        if s.max_memory_per_child and not self.signals.terms:
            rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if rss_kib > s.max_memory_per_child:
                log.warning("child pid %d uses %d KiB > --max-memory-per-child %d; replacing it", os.getpid(),
                            rss_kib, s.max_memory_per_child)
                self._retire()

    def job_deferred(self, runtime: Any, completion: Any) -> None:
        """A completed job whose completion waits for the batch's next request: on the board with its result
        (a supervisor records it should this child die), no longer held (it must not go back to the queue)."""
        with self._lock:
            self._held.pop(runtime.id, None)
            self.board.deferred(runtime.id, (runtime.task_name, runtime.claimed.token, completion.keep,
                                             completion.result))
        self._mark_changed()

    def completions_recorded(self, job_ids: list[str]) -> None:
        with self._lock:
            self.board.recorded(job_ids)

    def close(self) -> None:
        """Send the final state (nothing held once the worker stopped) and stop reporting."""
        self._closing.set()
        self._changed.set()
        self._thread.join(timeout=2)

    def _report_loop(self) -> None:
        while True:
            self._changed.wait()
            self._changed.clear()
            if not self._send_snapshot() or self._closing.is_set():
                return
            if self._closing.wait(REPORT_EVERY_S):  # a busy child reports at most this often
                self._send_snapshot()
                return

    def _send_snapshot(self) -> bool:
        with self._lock:
            snapshot, done, claims, reserved = dict(self._held), self.done, dict(self._claims), set(self._reserved)
        try:
            self.conn.send(("held", snapshot, done, claims, reserved))
            return True
        except (OSError, ValueError):  # the supervisor is gone; the engine's stall recovery still covers us
            log.debug("supervisor pipe closed", exc_info=True)
            return False

    def _retire(self) -> None:
        """Stop claiming right now (this runs in the slot thread), then shut down warm."""
        if self.pool.worker is not None:
            self.pool.worker._stopping.set()
        self.signals.request_stop()


def _die_with_supervisor(supervisor_pid: int) -> None:
    """A child outliving its supervisor would run jobs nobody beats for (they would run twice): on Linux the
    kernel kills it when the supervisor dies; elsewhere the child's pipe reports fail and it runs on."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != supervisor_pid:  # it died before the prctl
        os._exit(1)


#: prctl option: the signal a process gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def batch_size(settings: WorkerSettings) -> int:
    """Jobs per batch in this child: ``BATCH_JOBS``, and 1 (no batches) where Celery's prefetch lets a child hold
    fewer than 3 jobs reserved (``budget.reserve_bound``) or is off. Under a larger bound a batch claims only what
    the bound has room for (``PrefetchRoom.room_ahead``), so ``inspect reserved`` never shows more than -c x
    ``worker_prefetch_multiplier``."""
    extra = settings.extra
    bound = reserve_bound(settings.app, "prefork", settings.concurrency, extra.get("prefetch_multiplier"),
                          bool(extra.get("disable_prefetch")))
    return 1 if bound is not None and bound < 3 else BATCH_JOBS


def child_main(settings: WorkerSettings, conn: Connection, index: int, board: RunningBoard, liveness_id: str,
                supervisor_pid: int) -> None:  # fmt: skip
    """Entry point of a forked child: a one-slot-per-task worker (``ThreadPool.running_budget`` bounds how many of
    those slots run at once) until SIGTERM (warm) or SIGQUIT (cold)."""
    _die_with_supervisor(supervisor_pid)
    liveness.adopt(liveness_id)
    signals = StopSignals(repeat_term=False)  # cold only by the supervisor's SIGQUIT (see StopSignals)
    signals.install(interrupt=False, hangup=False)  # Ctrl-C reaches the whole group: only the supervisor acts
    pool = ThreadPool(replace(settings, owns_process=False), index=index, enforce_hard=False)  # no freeze: heap.py
    reporter = Reporter(conn, pool, signals, board)
    pool.hooks.append(reporter)
    pool.slots = lambda: 1  # type: ignore[method-assign]
    runner = main_thread.install() if main_thread.applies(pool) else None  # one job at a time: on this thread
    # a busy child claims and completes in batches (batches.py)
    batch_in_this_process(batch_size(settings), crowded=settings.concurrency > cpu_budget().count)
    name = f"child {index} (pid {os.getpid()})"
    if start_unless_stopped(pool.start, settings.app.adapter, signals):  # else stopped before: nothing is held
        if runner is not None:
            serve_with_handlers_on_main_thread(pool, signals, runner, name)
        else:
            serve(pool, signals, name=name)
    reporter.close()
    conn.close()
    settings.app.events.emit("worker:process-shutdown", {"hostname": settings.hostname, "pid": os.getpid(),
                                                         "exitcode": 0})


def serve_with_handlers_on_main_thread(pool: ThreadPool, signals: StopSignals, runner: main_thread.MainThreadRunner,
                                       name: str) -> None:  # fmt: skip
    """``pools.serve`` in a thread while the main thread runs the handlers, until the pool has stopped.

    A terminated job's process dies through the runner (the main thread), not ``serve``'s ``die_by``.
    """
    worker = getattr(pool, "worker", None)
    if worker is not None:
        worker.executor.terminator.kill_process = runner.terminate

    def serve_then_close() -> None:
        try:
            serve(pool, signals, name=name)
        except BaseException:
            log.exception("%s: the shutdown loop failed; stopping", name)
            raise
        finally:
            runner.close()

    threading.Thread(target=serve_then_close, name="taskora-serve", daemon=True).start()
    runner.run()
