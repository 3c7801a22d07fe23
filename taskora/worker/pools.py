"""Pool strategies for ``taskora worker``: how a worker process runs its slots.

``threads`` runs N slots in this process, ``solo`` one, ``asyncio`` N slots whose ``async def``
handlers share one event loop; ``prefork`` (``supervisor.py``) runs N child processes. Each pool has
the same small surface (start, request_stop, wait, restart, active, stats), so the command line and
the signal handling never branch on the pool kind.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import limits
from .budget import apply_prefetch, budget_size
from .heap import freeze_start_up
from .loop import Worker
from .process_death import die_by
from .wakeup import Wakeup

if TYPE_CHECKING:
    from ..app import Taskora
    from ..task import Task
    from .executor import Outcome
    from .runtime import JobRuntime

log = logging.getLogger("taskora.worker")
job_log = logging.getLogger("taskora.worker.jobs")

#: Pool names accepted by ``-P``.
POOL_NAMES = ("prefork", "threads", "solo", "asyncio")


@dataclass
class WorkerSettings:
    """Everything a pool needs to know, as given on the command line."""

    app: Taskora
    tasks: list[Task[Any, Any]]
    hostname: str
    concurrency: int
    pool: str = "threads"
    soft_time_limit: float | None = None
    time_limit: float | None = None
    max_tasks_per_child: int | None = None
    max_memory_per_child: int | None = None  # KiB of resident memory, as Celery's option
    #: At most this many handlers at once per process, for any app and pool (budget.py); None: the pool's default.
    max_running: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: True when running this worker is what the process is for (``taskora worker``; not a prefork child):
    #: its start-up objects are then frozen out of the garbage collector's walks (heap.py). An embedded worker
    #: (a test fixture, a program calling ``WorkController.start``) leaves its host's collector alone: frozen
    #: objects the host later drops would never be collected.
    owns_process: bool = False


class Pool(Protocol):
    settings: WorkerSettings

    def start(self) -> None: ...
    def request_stop(self, cold: bool) -> None: ...
    def wait(self, timeout: float | None) -> bool: ...
    def restart(self) -> None: ...
    def active(self) -> list[dict[str, Any]]: ...
    def reserved(self) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def size(self) -> int: ...
    def grow(self, n: int) -> int: ...
    def shrink(self, n: int) -> int: ...
    def change_tasks(self, added: list[Task[Any, Any]], dropped: list[Task[Any, Any]]) -> None: ...
    def limits_changed(self) -> None: ...


class JobLogger:
    """One log line per job received / succeeded / failed, formatted only when INFO is on."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def job_started(self, runtime: JobRuntime) -> None:
        if job_log.isEnabledFor(logging.INFO):
            job_log.info("%sTask %s[%s] received attempt=%d", self.prefix, runtime.task_name, runtime.id,
                         runtime.attempt)

    def job_finished(self, runtime: JobRuntime, outcome: Outcome | None) -> None:
        if not job_log.isEnabledFor(logging.INFO):
            return
        name, job_id = runtime.task_name, runtime.id
        if outcome is None:
            job_log.warning("%sTask %s[%s] returned to the queue unfinished", self.prefix, name, job_id)
        elif outcome.kind == "completed":
            job_log.info("%sTask %s[%s] succeeded in %.6fs: %s", self.prefix, name, job_id, outcome.duration,
                         _short(outcome.result))
        elif outcome.kind == "cancelled":
            job_log.info("%sTask %s[%s] cancelled after %.6fs", self.prefix, name, job_id, outcome.duration)
        else:
            error = outcome.error
            job_log.info("%sTask %s[%s] failed in %.6fs: %s: %s", self.prefix, name, job_id, outcome.duration,
                         type(error).__name__, error)


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_active(worker: Worker, hostname: str) -> list[dict[str, Any]]:
    """What ``inspect active`` shows for one in-process Worker."""
    now = time.monotonic()
    with worker._active_lock:
        runtimes = list(worker.active.values())
    return [{"id": r.id, "task": r.task_name, "attempt": r.attempt, "runtime_s": round(now - r.started, 3),
             "worker": hostname} for r in runtimes]


class ThreadPool:
    """N slot threads in this process; hard limits fail the job and abandon its thread."""

    kind = "threads"

    def __init__(self, settings: WorkerSettings, *, index: int = 0, enforce_hard: bool = True,
                 hooks: Iterable[Any] = ()) -> None:  # fmt: skip
        self.settings = settings
        self.index = index
        self.enforce_hard = enforce_hard
        self.hooks = list(hooks)
        self.worker: Worker | None = None
        self._stoppers: list[threading.Thread] = []

    def slots(self) -> int:
        return self.settings.concurrency

    def start(self) -> None:
        s = self.settings
        self.limits = limits.TimeLimitMiddleware(s.app, soft=s.soft_time_limit, hard=s.time_limit,
                                                 enforce_hard=self.enforce_hard,
                                                 overrides=s.extra.setdefault("time_limits", {}))
        limits.install(self.limits)
        s.app.events.emit("worker:process-init", {"hostname": s.hostname, "pool": s.pool, "index": self.index})
        self.worker = Worker(s.app, s.tasks, concurrency=self.slots(), name=s.hostname,
                             max_running=self.running_budget())
        apply_prefetch(self.worker, s, "solo" if self.kind == "solo" else s.pool)
        if not self.enforce_hard:  # a prefork child: a terminated job's process dies by the signal, as Celery's
            self.worker.executor.terminator.kill_process = terminate_process
        self.worker.job_hooks.append(JobLogger())
        self.worker.job_hooks.extend(self.hooks)
        if s.owns_process:
            freeze_start_up()  # after worker_process_init's handlers, before the first job (heap.py)
        self.worker.start()

    def running_budget(self) -> int | None:
        """How many handlers may run at once in this process (budget.py): ``solo`` one, a Celery app's prefork
        child one and its threads ``-c``; a native app none unless ``max_running`` asks."""
        s = self.settings
        return budget_size(s.app, "solo" if self.kind == "solo" else s.pool, s.concurrency, s.max_running)

    def _budget_follows_size(self) -> bool:
        """A Celery app's threads worker: its ``-c`` is its budget, so resizing the pool resizes the budget."""
        s = self.settings
        return self.kind != "solo" and s.pool != "prefork" and s.max_running is None

    def request_stop(self, cold: bool) -> None:
        """Warm: finish active jobs. Cold: abort them; the engine hands them to another worker."""
        worker = self.worker
        if worker is None:
            return
        args: tuple[Any, ...] = (0.0, True) if cold else (None, False)
        stopper = threading.Thread(target=lambda: worker.stop(args[0], cold=args[1]), name="taskora-stop",
                                   daemon=True)
        stopper.start()
        self._stoppers.append(stopper)

    def wait(self, timeout: float | None) -> bool:
        """True once a stop has completed (cold stops complete even while a warm one still drains)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for stopper in list(self._stoppers):
            stopper.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if not stopper.is_alive():
                return True
        return False

    def restart(self) -> None:
        log.info("SIGHUP: the %s pool has no child processes to replace; ignored", self.kind)

    def active(self) -> list[dict[str, Any]]:
        return [] if self.worker is None else describe_active(self.worker, self.settings.hostname)

    def reserved(self) -> list[dict[str, Any]]:
        """Jobs claimed here and not started: waiting for the budget, or claimed ahead (``inspect reserved``)."""
        if self.worker is None:
            return []
        with self.worker.held.lock:
            jobs = list(self.worker.held.reserved.values())
        return [{"id": j.id, "task": j.task, "attempt": int(j.fields.get("attempt", 1)),
                 "worker": self.settings.hostname, "pid": os.getpid()} for j in jobs]

    def stats(self) -> dict[str, Any]:
        processed = 0 if self.worker is None else self.worker.processed
        budget = None if self.worker is None else self.worker.budget
        return {"processed": processed, "slots": self.size(), "concurrency": self.size(),
                "max_running": None if budget is None else budget.limit}

    def size(self) -> int:
        """Slots per task now (``pool_grow``/``pool_shrink``/``--autoscale`` change it)."""
        return self.slots() if self.worker is None else self.worker.size()

    def grow(self, n: int) -> int:
        return self.slots() if self.worker is None else self._resized(self.worker.grow(n))

    def shrink(self, n: int) -> int:
        return self.slots() if self.worker is None else self._resized(self.worker.shrink(n))

    def _resized(self, size: int) -> int:
        budget = None if self.worker is None else self.worker.budget
        if budget is not None and self._budget_follows_size():
            budget.resize(size)
        return size

    def change_tasks(self, added: list[Task[Any, Any]], dropped: list[Task[Any, Any]]) -> None:
        """``add_consumer``/``cancel_consumer``: start slots for ``added``, let those of ``dropped`` leave."""
        if self.worker is not None:
            self.worker.serve_tasks([t for t in added if t.handler is not None], max(1, self.size()))
            self.worker.drop_tasks({t.name for t in dropped})

    def limits_changed(self) -> None:
        """Nothing to do: the time-limit middleware reads the live overrides on each job."""


class SoloPool(ThreadPool):
    """One slot per task and a budget of one (budget.py): jobs run one at a time, whatever their task."""

    kind = "solo"

    def slots(self) -> int:
        return 1


class AsyncioPool(ThreadPool):
    """N slots whose ``async def`` handlers run concurrently on the worker's one event loop."""

    kind = "asyncio"


#: The StopSignals this process installed (its main thread runs ``serve``), for ``terminate_process``.
_installed: StopSignals | None = None


def terminate_process(signum: int) -> None:
    """Make this process die by ``signum`` (a terminated job's prefork child). The main thread delivers it
    with the default action, as the signal may be one this process handles (SIGTERM: warm shutdown)."""
    signals = _installed
    if signals is None:  # no serve loop whose main thread could reset a handler: kill by default action or SIGKILL
        os.kill(os.getpid(), signum if signal.getsignal(signum) == signal.SIG_DFL else signal.SIGKILL)
        return
    signals.terminate_with = signum
    signals.changed.set()


class StopSignals:
    """SIGTERM/SIGINT once = warm shutdown, twice = cold; SIGQUIT = cold; SIGHUP = replace child processes.

    Handlers only count and wake ``serve``; all real work happens outside signal context. A prefork child
    counts SIGTERM once only (``repeat_term=False``): a service manager that signals the whole process group
    (systemd's default ``KillMode=control-group``, ``kill -TERM -<pgid>``) reaches it as well as its
    supervisor, which forwards the warm stop, and two SIGTERMs must not make a cold stop of one. The
    supervisor escalates to cold with SIGQUIT.
    """

    def __init__(self, *, repeat_term: bool = True) -> None:
        self.repeat_term = repeat_term
        self.terms = 0
        self.hups = 0
        #: Set by the signal handlers, so not a threading.Event (wakeup.py).
        self.changed = Wakeup()
        #: A signal this process must die by (``terminate_process``), delivered by ``serve``.
        self.terminate_with: int | None = None

    def install(self, *, interrupt: bool = True, hangup: bool = True) -> None:
        global _installed
        _installed = self
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term if interrupt else signal.SIG_IGN)
        signal.signal(signal.SIGHUP, self._on_hup if hangup else signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, self._on_quit)

    def _on_term(self, signum: int, frame: Any) -> None:
        if self.repeat_term or self.terms == 0:
            self.request_stop()

    def _on_quit(self, signum: int, frame: Any) -> None:
        self.terms = max(self.terms + 1, 2)
        self.changed.set()

    def _on_hup(self, signum: int, frame: Any) -> None:
        self.hups += 1
        self.changed.set()

    def request_stop(self) -> None:
        """Same as receiving SIGTERM (used e.g. when a child reaches --max-tasks-per-child)."""
        self.terms += 1
        self.changed.set()


def serve(pool: Pool, signals: StopSignals, *, name: str = "worker") -> None:
    """Run until the pool has stopped after a shutdown request; turns signals into pool calls."""
    handled_terms = handled_hups = 0
    while True:
        signals.changed.wait(0.5)
        signals.changed.clear()
        if signals.terminate_with is not None:
            die_by(signals.terminate_with)
        while handled_hups < signals.hups:
            handled_hups += 1
            log.info("%s: SIGHUP, replacing child processes", name)
            pool.restart()
        while handled_terms < signals.terms:
            handled_terms += 1
            cold = handled_terms >= 2
            log.warning("%s: %s shutdown requested%s", name, "cold" if cold else "warm",
                        "" if cold else " (finishing active jobs; signal again for a cold shutdown)")
            pool.request_stop(cold)
        if handled_terms and pool.wait(0):
            return
