"""The prefork pool: a supervisor process with N forked children, each a full worker with one slot
per task.

Children tell the supervisor over a pipe which jobs they hold: not per job (two messages per job
would cost the supervisor two wake-ups per job, a fifth of the pool's throughput on two cores) but
as a snapshot, sent at most every ``REPORT_EVERY_S`` while it changes (prefork_child.py). A child that dies has the
jobs of its last snapshot handed back at once (``nack`` with the child's lock token, so a job that
already finished is left alone; one taken after the snapshot is recovered by the stall sweep when
its lock lapses) and is replaced. A job the child was *running* when it died is different: that death is
a failed attempt (``WorkerLostError``, under the task's retry policy), so a handler that kills its process
cannot run forever; the child names its running jobs on a shared page before each handler starts
(running_board.py), so even a handler that dies at once is counted. A job counted lost runs alone in its child
the next time (quarantine.py), so a poison job is soon charged for its own deaths. A job past its hard time
limit gets its child killed and is failed with ``TimeLimitExceeded``. A warm shutdown is forwarded as
SIGTERM, a cold one as SIGQUIT (a child counts SIGTERM once: the whole process group may get it, see
pools.StopSignals); SIGHUP starts fresh children and drains the old ones.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from ..adapters.base import CONNECTION_ERRORS, ClaimedJob, stop_spinning_in_this_process
from ..errors import TaskoraError, TimeLimitExceeded, WorkerLostError
from ..retry import retry_delay_ms as retry_delay_ms_of
from ..retry import should_retry
from ..workflow import hooks as workflow_hooks
from . import liveness
from .failures import error_detail, error_text
from .pools import WorkerSettings
from .prefork_child import child_main
from .reconnect import address_of, once
from .running_board import Finished, RunningBoard
from .stop_wake import wake_or_cut

log = logging.getLogger("taskora.worker.supervisor")

#: After a cold shutdown request, children still alive this long are killed (their jobs requeued).
COLD_KILL_AFTER_S = 10.0
#: Longest the monitor waits without looking at time limits.
MONITOR_TICK_S = 0.5


@dataclass
class HeldJob:
    task: str
    token: str
    attempt: int
    hard: float | None
    started: float = field(default_factory=time.monotonic)


@dataclass
class Child:
    index: int
    process: Any
    conn: Connection
    board: RunningBoard
    #: The liveness id the supervisor beats for this child (liveness.py); it names the child's lock tokens.
    liveness_id: str
    held: dict[str, HeldJob] = field(default_factory=dict)
    #: Claims sent ahead whose replies the child has not read: lock token -> task (see lookahead.py).
    #: Ids of held jobs not started yet (claimed ahead, or waiting for the child's budget, budget.py).
    reserved: set[str] = field(default_factory=set)
    claims: dict[str, str] = field(default_factory=dict)
    processed: int = 0
    retiring: bool = False
    open: bool = True
    overrun: set[str] = field(default_factory=set)
    #: Killed by a cold shutdown: the jobs it was running are handed back, not charged an attempt.
    shut_down: bool = False

    @property
    def pid(self) -> int:
        return int(self.process.pid)


class Supervisor:
    """Pool strategy ``prefork`` (same surface as ThreadPool)."""

    kind = "prefork"

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.children: dict[int, Child] = {}
        self.processed = 0
        self._lock = threading.RLock()
        self._stopping = False
        #: Set once a stop found Redis silent and cut its connections (``_wake_or_cut``).
        self._cut = False
        self._cold_deadline: float | None = None
        self._done = threading.Event()
        self._context = multiprocessing.get_context("fork")
        self._monitor: threading.Thread | None = None
        #: Hand-backs of dead children's jobs that Redis could not take (an outage): retried every monitor tick
        #: until done. Each is written only while the dead child's lock still holds the job, so a late one is
        #: safe; left to lock expiry instead, such a job waited out the whole stall interval.
        self._deferred: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = []
        self._retrying = False

    # -- pool surface ---------------------------------------------------------------------------
    def start(self) -> None:
        stop_spinning_in_this_process()  # a worker process too, though it runs no job (adapters/reply_spin.py)
        for index in range(self.settings.concurrency):
            self._spawn(index)
        self._monitor = threading.Thread(target=self._monitor_loop, name="taskora-supervisor", daemon=True)
        self._monitor.start()
        threading.Thread(target=self._beat_loop, name="taskora-supervisor-liveness", daemon=True).start()

    def _beat_loop(self) -> None:
        """Keep every live child's liveness key: here, where no handler runs, a handler that holds its process's
        GIL for seconds cannot make its job look lost. A dead child's key is dropped once its jobs are settled."""
        while not self._done.wait(liveness.BEAT_EVERY_S):
            with self._lock:
                alive = {c.liveness_id: self.settings.hostname for c in self.children.values()}
            self._beat(alive)

    def _beat(self, alive: dict[str, str]) -> None:
        adapter = self.settings.app.adapter
        try:
            once(address_of(adapter), adapter.mark_all_alive, alive, int(liveness.ALIVE_TTL_S * 1000))
        except Exception as exc:  # a full Redis refuses the keys: the children's jobs fall back on lock expiry
            if not liveness.refused_when_full(exc):
                raise
            log.debug("Redis is full (maxmemory); the children's liveness keys wait for the next beat: %s", exc)

    def request_stop(self, cold: bool) -> None:
        with self._lock:
            self._stopping = True
            if cold:
                self._cold_deadline = time.monotonic() + COLD_KILL_AFTER_S
            children = list(self.children.values())
        for child in children:
            _signal(child.pid, signal.SIGQUIT if cold else signal.SIGTERM)
        wakes = [(task.name, self.settings.concurrency) for task in self.settings.tasks]
        threading.Thread(target=self._wake_or_cut, args=(wakes,), name="taskora-stop-wake", daemon=True).start()

    def _wake_or_cut(self, wakes: list[tuple[str, int]]) -> None:
        """The stop's wake (stop_wake.py). Once it cut the connections of a Redis gone silent, children reaped after
        it leave their claims to the reclaimers instead of looking them up in Redis (``_reap``): each look-up waited
        out its timeout, and a stop of two children took 12-15 s."""
        adapter = self.settings.app.adapter
        if not wake_or_cut(adapter, address_of(adapter), wakes):
            self._cut = True

    def wait(self, timeout: float | None) -> bool:
        return self._done.wait(timeout)

    def restart(self) -> None:
        """Fresh children first, then a warm stop of the old ones: no job is dropped."""
        with self._lock:
            if self._stopping:
                return
            old = [c for c in self.children.values() if not c.retiring]
            for child in old:
                child.retiring = True
                self._spawn(child.index)
        for child in old:
            _signal(child.pid, signal.SIGTERM)

    def active(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            return [{"id": job_id, "task": h.task, "attempt": h.attempt, "runtime_s": round(now - h.started, 3),
                     "worker": self.settings.hostname, "pid": c.pid}
                    for c in self.children.values() for job_id, h in c.held.items() if job_id not in c.reserved]

    def reserved(self) -> list[dict[str, Any]]:
        """The children's held jobs that have not started (``inspect reserved``)."""
        with self._lock:
            return [{"id": job_id, "task": h.task, "attempt": h.attempt, "worker": self.settings.hostname,
                     "pid": c.pid} for c in self.children.values() for job_id, h in c.held.items()
                    if job_id in c.reserved]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            children = [{"index": c.index, "pid": c.pid, "processed": c.processed, "active": len(c.held)}
                        for c in self.children.values() if not c.retiring]
            return {"processed": self.processed, "children": children, "concurrency": len(children)}

    def change_tasks(self, added: list[Any], dropped: list[Any]) -> None:
        """``add_consumer``/``cancel_consumer`` (``settings.tasks`` already changed): fresh children run the new
        set, the old ones finish their jobs warm."""
        self.restart()

    def limits_changed(self) -> None:
        """``time_limit``: fresh children (and their reports, which carry each job's hard limit to this
        supervisor) apply the new limits to jobs started from now on."""
        self.restart()

    # -- live resizing (pool_grow / pool_shrink / --autoscale) -----------------------------------
    def size(self) -> int:
        """Children serving now (those retiring, finishing their last jobs, not counted)."""
        with self._lock:
            return sum(not c.retiring for c in self.children.values())

    def grow(self, n: int) -> int:
        """``n`` more children, each a fresh fork serving at once; returns the new size."""
        with self._lock:
            if self._stopping:
                return self.size()
            used = {c.index for c in self.children.values()}
            free = [i for i in range(len(used) + n) if i not in used][:n]
        for index in free:
            self._spawn(index)
        return self.size()

    def shrink(self, n: int) -> int:
        """Retire ``n`` children (keeping one), idle ones first: each gets a warm stop, so its running job
        finishes and is not replaced."""
        with self._lock:
            serving = sorted((c for c in self.children.values() if not c.retiring),
                             key=lambda c: (len(c.held), -c.index))  # idle ones first, the newest first
            leaving = serving[:max(0, min(n, len(serving) - 1))]
            for child in leaving:
                child.retiring = True
        for child in leaving:
            _signal(child.pid, signal.SIGTERM)
        return self.size()

    # -- children -------------------------------------------------------------------------------
    def _spawn(self, index: int) -> Child:
        reader, writer = self._context.Pipe(duplex=False)
        board, liveness_id = RunningBoard(), liveness.new_worker_id()
        self._beat({liveness_id: self.settings.hostname})  # alive before its first claim
        process = self._context.Process(target=child_main, name=f"ForkPoolWorker-{index + 1}", daemon=False,
                                        args=(self.settings, writer, index, board, liveness_id, os.getpid()))
        process.start()
        writer.close()
        child = Child(index, process, reader, board, liveness_id)
        with self._lock:
            self.children[child.pid] = child
        log.debug("started child %d (pid %d)", index, child.pid)
        return child

    def _monitor_loop(self) -> None:
        while True:
            with self._lock:
                children = list(self.children.values())
                if self._stopping and not children:
                    self._done.set()
                    return
            waitables: list[Any] = [c.conn for c in children if c.open] + [c.process.sentinel for c in children]
            ready = set(wait(waitables, timeout=MONITOR_TICK_S))
            for child in children:
                if child.conn in ready:
                    self._drain(child)
                if child.process.sentinel in ready:
                    self._reap(child)
            self._enforce_limits(children)
            self._retry_deferred()

    def _drain(self, child: Child) -> None:
        while child.open:
            try:
                if not child.conn.poll():
                    return
                message = child.conn.recv()
            except (EOFError, OSError):
                child.open = False
                return
            self._on_message(child, message)

    def _on_message(self, child: Child, message: tuple[Any, ...]) -> None:
        # ("held", {job id: (task, token, attempt, hard, started)}, done, {claim token in flight: task},
        #  {ids of held jobs not started})
        _kind, held, processed, claims, reserved = message
        with self._lock:
            child.claims, child.reserved = claims, reserved
            # ``started`` is the child's time.monotonic(): CLOCK_MONOTONIC, the same clock in every process
            child.held = {job_id: HeldJob(task, token, attempt, hard, started)
                          for job_id, (task, token, attempt, hard, started) in held.items()}
            self.processed += processed - child.processed
            child.processed = processed

    def _reap(self, child: Child) -> None:
        child.process.join()
        self._drain(child)
        with self._lock:
            self.children.pop(child.pid, None)
            respawn = not self._stopping and not child.retiring
        code = child.process.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        running, finished = child.board.read(), child.board.read_finished()
        if code != 0 or running:
            log.error("child %d (pid %d) died (%s) holding %d job(s)", child.index, child.pid, how,
                      len(set(child.held) | set(running)))
        self._record_finished(finished)  # first: each is active under the child's lock until recorded
        for job_id, held in self._jobs_of_dead_child(child, running).items():
            if job_id in finished:
                continue
            try:
                self._settle_job_of_dead_child(child, job_id, held, running, how)
            except Exception:  # never let one job stop the supervisor; stall recovery remains
                log.exception("handling job %s of dead child pid %d failed", job_id, child.pid)
        if not self._cut:  # else Redis went silent: the reclaimers hand back what it claimed, its key lapses
            self._requeue_claims_in_flight(child)
            self._requeue_unstarted(child, {**running, **finished})
            self._drop_liveness(child)
        child.conn.close()
        child.board.close()
        if respawn:
            self._spawn(child.index)

    def _drop_liveness(self, child: Child) -> None:
        """Jobs the dead child claimed that no report named go back through any worker's reclaimer now."""
        try:
            self.settings.app.adapter.mark_gone(child.liveness_id)
        except CONNECTION_ERRORS:
            pass  # the key lapses by itself within seconds

    @staticmethod
    def _jobs_of_dead_child(child: Child, running: dict[str, tuple[str, str, int]]) -> dict[str, HeldJob]:
        """Its last reported jobs, plus running ones the board names that no report carried yet."""
        jobs = dict(child.held)
        for job_id, (task, token, attempt) in running.items():
            jobs.setdefault(job_id, HeldJob(task, token, attempt, None))
        return jobs

    def _settle_job_of_dead_child(self, child: Child, job_id: str, held: HeldJob,
                                  running: dict[str, tuple[str, str, int]], how: str) -> None:  # fmt: skip
        """Past its hard time limit: TimeLimitExceeded. The only job running when the child died: a failed
        attempt (WorkerLostError). One of several running (which of them killed it is unknown), or of a task
        redelivered however often its worker is lost (``stall.max_lost=None``): handed back and counted as lost,
        not as an attempt. Claimed but not started, or killed by a shutdown: back to the queue."""
        if job_id in child.overrun:
            error: TaskoraError = TimeLimitExceeded(
                f"{held.task} job {job_id} exceeded its hard time limit of {held.hard:g}s (child pid {child.pid} "
                f"killed)")
            self._fail_job_of_dead_child(job_id, held, error)
        elif job_id not in running or child.shut_down:
            self._requeue(job_id, held, unstarted=job_id not in running)
        elif len(running) == 1 and not self._redelivered_until_done(held.task):
            error = WorkerLostError(f"worker process died ({how}) while running this job")
            self._fail_job_of_dead_child(job_id, held, error)
        else:
            self._reclaim(job_id, held, how)

    def _redelivered_until_done(self, task: str) -> bool:
        return self.settings.app.get_task(task).options.stall.max_lost is None

    def _reclaim(self, job_id: str, held: HeldJob, how: str) -> None:
        app = self.settings.app
        try:
            status = app.adapter.reclaim(held.task, job_id, held.token, app.get_task(held.task).options.stall.max_lost)
        except CONNECTION_ERRORS as exc:
            self._defer(f"hand back {held.task}[{job_id}]", exc, self._reclaim, job_id, held, how)
            return
        if status != "lost":
            log.warning("Task %s[%s]: its process died (%s) while it ran; handed back as lost: %s", held.task,
                        job_id, how, "failed (lost too often)" if status == "failed" else status)

    def _enforce_limits(self, children: list[Child]) -> None:
        now = time.monotonic()
        for child in children:
            for job_id, held in list(child.held.items()):
                if held.hard is not None and now - held.started > held.hard and job_id not in child.overrun:
                    log.error("Task %s[%s] hard time limit (%gs) exceeded; killing child pid %d", held.task, job_id,
                              held.hard, child.pid)
                    child.overrun.add(job_id)
                    _signal(child.pid, signal.SIGKILL)
        if self._cold_deadline is not None and now > self._cold_deadline:
            for child in children:
                child.shut_down = True
                _signal(child.pid, signal.SIGKILL)

    # -- jobs of dead children --------------------------------------------------------------------
    def _defer(self, what: str, exc: BaseException, fn: Callable[..., None], *args: Any) -> None:
        """Keep a hand-back Redis refused for the next monitor tick (said once: a retry that fails again is quiet)."""
        if not self._retrying:
            log.warning("could not %s (%s); retrying until Redis takes it", what, exc)
        self._deferred.append((what, fn, args))

    def _retry_deferred(self) -> None:
        pending, self._deferred = self._deferred, []
        self._retrying = True
        try:
            for what, fn, args in pending:
                fn(*args)  # defers itself again while Redis still refuses
                if not self._deferred or self._deferred[-1][0] != what:
                    log.info("done: %s, now that Redis is reachable", what)
        finally:
            self._retrying = False

    def _requeue_claims_in_flight(self, child: Child) -> None:
        """A child that died with a claim sent ahead had not read which job it claimed: find it by its lock."""
        adapter = self.settings.app.adapter
        for token, task in child.claims.items():
            try:
                for job_id in adapter.held_with(task, [token]):
                    if job_id not in child.held:
                        self._requeue(job_id, HeldJob(task, token, 1, None))
            except CONNECTION_ERRORS as exc:  # the other claims' reads would wait on the same unreachable Redis
                log.warning("could not look for %s's claim of dead child pid %d (%s); its lock's expiry will",
                            task, child.pid, exc)
                return

    def _requeue_unstarted(self, child: Child, running: dict[str, Any]) -> None:
        """Jobs still locked under the dead child's liveness id that it never started (claimed after its last
        report) go back uncounted: left to the reclaimers, each would count as lost, and a job counted lost
        runs quarantined (quarantine.py). The running board names every job it started."""
        adapter = self.settings.app.adapter
        for task in self.settings.tasks:
            try:
                for job_id, token in adapter.locks_of_active(task.name):
                    if liveness.owner_of(token) == child.liveness_id and job_id not in running:
                        self._requeue(job_id, HeldJob(task.name, token, 1, None))
            except CONNECTION_ERRORS as exc:  # the other tasks' reads would wait on the same unreachable Redis
                log.warning("could not look for the jobs of dead child pid %d (%s); the reclaimers will", child.pid,
                            exc)
                return

    def _record_finished(self, finished: Finished) -> None:
        """Record the completions a dead child's batch had not sent yet (batches.py): those jobs ran to the end
        and must not run again. Written only while the dead child's lock still holds the job."""
        adapter = self.settings.app.adapter
        for job_id, (task, token, keep, result) in finished.items():
            try:
                status = adapter.ack(ClaimedJob(task, job_id, token, {}), result, keep=keep).status
            except CONNECTION_ERRORS as exc:
                self._defer(f"complete {task}[{job_id}]", exc, self._record_finished, {job_id: finished[job_id]})
                continue
            if status == "ok":  # else the child's own request had recorded it before it died
                log.info("Task %s[%s] had completed in the dead child: completion recorded", task, job_id)

    def _requeue(self, job_id: str, held: HeldJob, unstarted: bool = True) -> None:
        """Back to the front of its queue, uncharged; one that never ran with its rate-limit turn too."""
        try:
            if self.settings.app.adapter.nack(held.task, job_id, held.token, unstarted=unstarted):
                log.warning("Task %s[%s] returned to the queue (its process died)", held.task, job_id)
        except CONNECTION_ERRORS as exc:
            self._defer(f"requeue {held.task}[{job_id}]", exc, self._requeue, job_id, held, unstarted)

    def _fail_job_of_dead_child(self, job_id: str, held: HeldJob, error: TaskoraError) -> None:
        """End the attempt a dead child was running with ``error``: retried under the task's policy, else failed.
        Written only while the dead child's lock token still holds the job, so a job it had finished, or that
        another worker took over meanwhile, is left alone."""
        app = self.settings.app
        task = app.get_task(held.task)
        retry_delay_ms, not_retried = None, None
        if should_retry(task.options.retry, error, held.attempt):
            retry_delay_ms, not_retried = retry_delay_ms_of(task.options.retry, error, held.attempt)
        text = error_text(error) + (f" (not retried: {not_retried})" if not_retried else "")
        detail = error_detail(error)
        try:
            if retry_delay_ms is None:
                workflow_hooks.on_failed(app, app.adapter.get_job(held.task, job_id) or {}, text, detail)
            result = app.adapter.fail(ClaimedJob(held.task, job_id, held.token, {}), text,
                                      retry_delay_ms=retry_delay_ms, detail=detail)
        except CONNECTION_ERRORS as exc:
            self._defer(f"fail {held.task}[{job_id}]", exc, self._fail_job_of_dead_child, job_id, held, error)
            return
        if result.status != "lost":
            log.error("Task %s[%s] attempt %d %s: %s: %s", held.task, job_id, held.attempt,
                      "failed, will retry" if result.status == "retrying" else "failed", type(error).__name__, text)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
