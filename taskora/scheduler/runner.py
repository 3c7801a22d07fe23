"""The leader-elected scheduler: one thread per process, one leader across all of them.

Every tick each runner tries to take (or renew) ``taskora:schedules:lock`` (SET NX PX with its own
token). The leader syncs declarations when it takes the lock, then handles the schedules due per
``taskora:schedules:next``: it computes fire times and next runs with the spec (cron math stays in
Python), dispatches each run as job ``uuid5(name, fire time)`` and records the tick with one script
that checks the token. A leader that dies mid-tick leaves the schedule as it was; the next leader
re-plans the same slot, re-enqueues the same job id, and the idempotent enqueue drops the copy, so
a run is never fired twice. A clean stop releases the lock so a restarted runner leads at once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..adapters.base import CONNECTION_ERRORS
from ..durations import to_seconds
from ..errors import ConfigurationError, TaskoraError, reject_unknown
from .manager import RUNNING_STATES, run_id
from .spec import ScheduleConfig, plan_due_runs

if TYPE_CHECKING:
    from ..app import Taskora

log = logging.getLogger("taskora.scheduler")

#: Seeds' defaults: check for due schedules every second; a dead leader is replaced within 30 s.
DEFAULT_TICK = 1.0
DEFAULT_LOCK_TTL = 30.0
#: Most schedules one tick handles (the rest wait for the next tick, earliest first).
BATCH = 200


@dataclass
class TickResult:
    """What one tick did: whether this runner led, and the runs it fired or skipped."""

    leader: bool
    #: (schedule name, fire time ms, job id) of every run dispatched.
    fired: list[tuple[str, int, str]] = field(default_factory=list)
    #: Schedules whose due run was skipped because the previous run is still going (overlap=False).
    skipped: list[str] = field(default_factory=list)
    #: Schedule names whose tick was recorded (others changed meanwhile and are re-read next tick).
    recorded: list[str] = field(default_factory=list)


class SchedulerRunner:
    """Run the app's schedules from this process (``taskora worker -B``, ``taskora beat``).

    Args:
        app: the Taskora app; its ``scheduler=`` settings (``poll_interval``, ``lock_ttl``) are the defaults.
        tick: longest sleep between ticks, seconds (a tick also wakes for the earliest due schedule).
        lock_ttl: leader lock lifetime; a dead leader is replaced within it. Must exceed ``tick``.
    """

    def __init__(self, app: Taskora, *, tick: Any = None, lock_ttl: Any = None) -> None:
        options = getattr(app, "scheduler_options", {}) or {}
        reject_unknown("scheduler", options, {"poll_interval", "lock_ttl", "prune"})
        self.app = app
        app._dispatch_waits = True  # a run it records as fired is in Redis (taskora/background.py)
        self.tick = to_seconds(tick if tick is not None else options.get("poll_interval", DEFAULT_TICK), name="tick")
        self.lock_ttl = to_seconds(lock_ttl if lock_ttl is not None else options.get("lock_ttl", DEFAULT_LOCK_TTL),
                                   name="lock_ttl")
        if self.tick <= 0 or self.lock_ttl <= self.tick:
            raise ConfigurationError(f"scheduler: need 0 < tick < lock_ttl (the leader renews every tick), got "
                                     f"tick={self.tick}s lock_ttl={self.lock_ttl}s")
        if options.get("prune"):
            app.schedules.sources["native"].prune = True
        #: Who holds ``taskora:schedules:lock`` is readable by people: ``<pid>@<host>:<random>``.
        self.token = f"{os.getpid()}@{socket.gethostname()}:{uuid.uuid4().hex[:16]}"
        self.is_leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<SchedulerRunner {self.token} leader={self.is_leader}>"

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> SchedulerRunner:
        """Check the declarations (unknown task, bad spec: ConfigurationError now) and start the loop thread."""
        if self._thread is not None:
            raise ConfigurationError("this scheduler runner is already started")
        self.app.schedules.validate()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="taskora-scheduler", daemon=True)
        self.app.events.emit("scheduler:start", self)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop ticking and release the lock if held, so another runner takes over at its next tick."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.release()

    def release(self) -> bool:
        """Give up leadership now (True when this runner held the lock)."""
        self.is_leader = False
        try:
            return self.app.adapter.scheduler_unlock(self.token)
        except CONNECTION_ERRORS as exc:
            log.warning("scheduler: could not release the leader lock (it expires in %ss): %s", self.lock_ttl, exc)
            return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self.tick
            try:
                self.tick_once()
                wait = self._next_wait()
            except CONNECTION_ERRORS as exc:
                log.warning("scheduler: Redis unreachable, retrying in %ss: %s", self.tick, exc)
            except Exception:  # one bad tick must not end scheduling in this process
                log.exception("scheduler: tick failed")
            self._stop.wait(wait)

    def _next_wait(self) -> float:
        """Sleep until the earliest due schedule (if this runner leads), at most one tick."""
        if not self.is_leader:
            return self.tick
        earliest = self.app.adapter.schedules_earliest()
        if earliest is None:
            return self.tick
        return min(self.tick, max(0.005, (earliest - self.app.adapter.now_ms()) / 1000))

    # -- one tick ---------------------------------------------------------------------------------
    def tick_once(self) -> TickResult:
        """Take or renew the lock; if leading, fire what is due at the app clock's now. Tests call this."""
        status = self.app.adapter.scheduler_lock(self.token, int(self.lock_ttl * 1000))
        if status == 0:
            if self.is_leader:
                log.warning("scheduler: lost the leader lock to another runner")
            self.is_leader = False
            return TickResult(leader=False)
        if status == 2 or not self.is_leader:
            log.info("scheduler: %s is now the leader", self.token)
            self.is_leader = True
            self.app.schedules.sync()
        return self._run_due(self.app.adapter.now_ms())

    def _run_due(self, now: int) -> TickResult:
        result = TickResult(leader=True)
        names = self.app.adapter.schedules_due(now, BATCH)
        records = []
        for name, (raw, next_ms) in self.app.adapter.schedules_read(names).items():
            if next_ms is None or next_ms > now:
                continue
            record = self._handle(name, raw, next_ms, now, result)
            if record is not None:
                records.append(record)
        if records:
            recorded = self.app.adapter.scheduler_tick(self.token, records)
            if recorded is None:
                log.warning("scheduler: lost the leader lock mid-tick; the next leader re-plans these runs")
                self.is_leader = False
                result.leader = False
            else:
                result.recorded = recorded
        return result

    def _handle(self, name: str, raw: str, next_ms: int, now: int,
                result: TickResult) -> tuple[str, str, int, str, int] | None:  # fmt: skip
        try:
            config = ScheduleConfig.from_json(raw)
            plan = plan_due_runs(config.spec, next_ms, now, config.on_missed)
        except ConfigurationError as exc:
            log.error("scheduler: schedule %r cannot be read, leaving it alone: %s", name, exc)
            return None
        if not config.overlap and self._still_running(config):
            log.info("scheduler: %r skipped: its previous run %s is still going", name, config.last_job_id)
            result.skipped.append(name)
            return name, raw, next_ms, raw, plan.next_run_ms
        fired = self._dispatch(name, config, plan.fire_times, result)
        if fired:
            config = dataclasses.replace(config, last_run=fired[-1][0], last_job_id=fired[-1][1])
        return name, raw, next_ms, config.to_json(), plan.next_run_ms

    def _dispatch(self, name: str, config: ScheduleConfig, fire_times: tuple[int, ...],
                  result: TickResult) -> list[tuple[int, str]]:  # fmt: skip
        fired = []
        for fire_ms in fire_times:
            job_id = run_id(name, fire_ms)
            try:
                self.app.schedules.dispatch_run(name, config, fire_ms, job_id)
            except TaskoraError as exc:  # e.g. the task is not registered here: skip the run, keep the timing
                log.error("scheduler: %r could not dispatch its run at %s: %s", name, fire_ms, exc)
                continue
            fired.append((fire_ms, job_id))
            result.fired.append((name, fire_ms, job_id))
        return fired

    def _still_running(self, config: ScheduleConfig) -> bool:
        if not config.last_job_id:
            return False
        state = self.app.adapter.get_fields(config.task, config.last_job_id, ["state"]).get("state")
        return state in RUNNING_STATES
