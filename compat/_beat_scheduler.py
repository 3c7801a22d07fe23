"""Celery beat's in-process scheduler classes (``celery.beat.Scheduler``, ``ScheduleEntry``, ``Service``).

``taskora beat``/``worker -B`` run ``beat_schedule`` on the native leader-elected scheduler (``beat.py``).
These classes are for code that drives a scheduler itself, as Celery's own tests and custom schedulers
(subclasses overriding ``setup_schedule``, ``tick``, ``is_due``, ``apply_entry``, the ``schedule``
property…) do. They keep Celery's contract:

* ``tick()`` sends at most one due entry per call, through the app's real send path
  (``task.apply_async`` for a known task, ``app.send_task`` otherwise), and returns the seconds to
  wait before the next call — 0 right after a send, or when another entry is already due.
* Entries live in a heap of ``event_t(time, priority, entry)``; ``reserve`` replaces an entry by its
  successor (``last_run_at`` = now, ``total_run_count`` + 1) before it is sent, so a send that raises
  does not make beat loop on it. An entry whose ``is_due`` raises is retried ``max_interval`` later
  without stopping the others.
* ``PersistentScheduler`` keeps entries (last run, run count) in a :mod:`shelve` file across restarts.
"""

from __future__ import annotations

import copy
import heapq
import logging
import shelve
import threading
import time
from calendar import timegm
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from .schedules import maybe_schedule

__all__ = ["BeatLazyFunc", "DEFAULT_MAX_INTERVAL", "PersistentScheduler", "ScheduleEntry", "Scheduler",
           "SchedulingError", "event_t"]

log = logging.getLogger("taskora.compat.beat")

#: One heap item: when the entry is next due (epoch seconds), its priority, and the entry.
event_t = namedtuple("event_t", ("time", "priority", "entry"))  # noqa: PYI024 - Celery's public name
#: Longest a scheduler sleeps between ticks unless configured (``beat_max_loop_interval``).
DEFAULT_MAX_INTERVAL = 300
_PRIORITY = 5


class SchedulingError(Exception):
    """A due entry could not be sent (wraps the send's exception)."""


class BeatLazyFunc:
    """An entry argument evaluated at each send (``BeatLazyFunc(datetime.now)``)."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._func, self._args, self._kwargs = func, args, kwargs

    def __call__(self) -> Any:
        return self.delay()

    def delay(self) -> Any:
        return self._func(*self._args, **self._kwargs)


def _evaluate(value: Any) -> Any:
    return value() if isinstance(value, BeatLazyFunc) else value


class ScheduleEntry:
    """One periodic task of a scheduler: what to send, its schedule, when it last ran and how often."""

    def __init__(self, name: str | None = None, task: str | None = None, last_run_at: datetime | None = None,
                 total_run_count: int | None = None, schedule: Any = None, args: Any = (), kwargs: Any = None,
                 options: Any = None, relative: bool = False, app: Any = None) -> None:  # fmt: skip
        self.app = app
        self.name = name
        self.task = task
        self.args = args
        self.kwargs = kwargs if kwargs else {}
        self.options = options if options else {}
        self.schedule = maybe_schedule(schedule, relative, app=self.app)
        self.last_run_at = last_run_at or self.default_now()
        self.total_run_count = total_run_count or 0

    def default_now(self) -> datetime:
        return self.schedule.now() if self.schedule else self.app.now()

    _default_now = default_now

    def _next_instance(self, last_run_at: datetime | None = None) -> ScheduleEntry:
        """The entry after a run: ``last_run_at`` now (or given) and one more run counted."""
        fields = dict(self, last_run_at=last_run_at or self.default_now(), total_run_count=self.total_run_count + 1)
        return self.__class__(**fields)

    __next__ = next = _next_instance

    def __reduce__(self) -> Any:
        return self.__class__, (self.name, self.task, self.last_run_at, self.total_run_count, self.schedule,
                                self.args, self.kwargs, self.options)

    def update(self, other: ScheduleEntry) -> None:
        """Take ``other``'s editable fields (task, schedule, args, kwargs, options); keep run history."""
        self.__dict__.update({"task": other.task, "schedule": other.schedule, "args": other.args,
                              "kwargs": other.kwargs, "options": other.options})

    def is_due(self) -> Any:
        """``(is_due, seconds until the next check)`` from the schedule."""
        return self.schedule.is_due(self.last_run_at)

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(vars(self).items())

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.name} {self.task}(*{self.args!r}, **{self.kwargs!r}) {self.schedule}"

    def __lt__(self, other: object) -> bool:
        if isinstance(other, ScheduleEntry):
            return id(self) < id(other)  # heap order is decided by time and priority; ties are arbitrary
        return NotImplemented

    def editable_fields_equal(self, other: ScheduleEntry) -> bool:
        return all(getattr(self, a) == getattr(other, a) for a in ("task", "args", "kwargs", "options", "schedule"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScheduleEntry):
            return NotImplemented
        return self.editable_fields_equal(other)

    __hash__ = None  # type: ignore[assignment]  # compared by value, as in Celery


def _epoch_seconds(moment: datetime) -> float:
    """Epoch seconds of ``moment``; a naive datetime is UTC (Celery's ``maybe_make_aware``)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    return timegm(aware.utctimetuple()) + aware.microsecond / 1e6


class Scheduler:
    """Celery's beat scheduler: a heap of entries, one due entry sent per :meth:`tick`.

    Args:
        app: The Celery app whose send path the entries use.
        schedule: Initial entries (dict of name → entry), Celery's ``schedule`` argument.
        max_interval: Longest ``tick()`` asks to sleep (``beat_max_loop_interval``, else 300 s).
        lazy: Do not call :meth:`setup_schedule` (introspection; custom schedulers set up later).
    """

    Entry = ScheduleEntry
    max_interval: float = DEFAULT_MAX_INTERVAL
    sync_every = 3 * 60
    sync_every_tasks: int | None = None
    _last_sync: float | None = None
    _tasks_since_sync = 0
    logger = log

    def __init__(self, app: Any, schedule: Mapping[str, Any] | None = None, max_interval: float | None = None,
                 Producer: Any = None, lazy: bool = False, sync_every_tasks: int | None = None,  # noqa: N803
                 **kwargs: Any) -> None:  # fmt: skip
        self.app = app
        self.data = {} if schedule is None else schedule
        self.max_interval = max_interval or app.conf.get("beat_max_loop_interval") or self.max_interval
        self.Producer = Producer
        self._heap: list[Any] | None = None
        self.old_schedulers: Any = None
        self.sync_every_tasks = app.conf.get("beat_sync_every") if sync_every_tasks is None else sync_every_tasks
        if not lazy:
            self.setup_schedule()

    # -- the schedule ---------------------------------------------------------------------------------
    def get_schedule(self) -> Any:
        return self.data

    def set_schedule(self, schedule: Any) -> None:
        self.data = schedule

    schedule = property(get_schedule, set_schedule)

    def setup_schedule(self) -> None:
        self.install_default_entries(self.data)
        self.merge_inplace(self.app.conf.get("beat_schedule") or {})

    def install_default_entries(self, data: Any) -> None:
        """Celery adds ``celery.backend_cleanup`` for backends without expiry; taskora's results expire."""

    def add(self, **kwargs: Any) -> ScheduleEntry:
        entry = self.Entry(app=self.app, **kwargs)
        self.schedule[entry.name] = entry
        return entry

    def _maybe_entry(self, name: str, entry: Any) -> ScheduleEntry:
        if isinstance(entry, self.Entry):
            entry.app = self.app
            return entry
        return self.Entry(**dict(entry, name=name, app=self.app))

    def update_from_dict(self, dict_: Mapping[str, Any]) -> None:
        self.schedule.update({name: self._maybe_entry(name, entry) for name, entry in dict_.items()})

    def merge_inplace(self, b: Mapping[str, Any]) -> None:
        """Make the schedule hold exactly ``b``'s entries, keeping the run history of those it had."""
        schedule = self.schedule
        for key in set(schedule) ^ set(b):
            schedule.pop(key, None)
        for key in b:
            entry = self.Entry(**dict(b[key], name=key, app=self.app))
            if schedule.get(key):
                schedule[key].update(entry)
            else:
                schedule[key] = entry

    def schedules_equal(self, old_schedules: Any, new_schedules: Any) -> bool:
        if old_schedules is None or new_schedules is None:
            return old_schedules is new_schedules
        if set(old_schedules) != set(new_schedules):
            return False
        return all(new_schedules.get(name) == entry for name, entry in old_schedules.items())

    # -- timing ---------------------------------------------------------------------------------------
    def adjust(self, n: float | None, drift: float = -0.010) -> float | None:
        return n + drift if n and n > 0 else n

    def is_due(self, entry: ScheduleEntry) -> Any:
        return entry.is_due()

    def _is_due_failed(self, entry: ScheduleEntry) -> tuple[bool, float]:
        """An entry whose next run cannot be computed is retried later; the others keep running."""
        log.error("beat: cannot calculate the next run of %r, trying again in %s s", entry.name,
                  self.max_interval, exc_info=True)
        return False, self.max_interval

    def _checked_is_due(self, entry: ScheduleEntry, of_entry: bool = False) -> tuple[bool, float]:
        try:
            due, next_s = entry.is_due() if of_entry else self.is_due(entry)
            return bool(due), float(next_s)
        except Exception:
            return self._is_due_failed(entry)

    def _when(self, entry: ScheduleEntry, next_time_to_run: float | None) -> float:
        """Epoch seconds ``next_time_to_run`` after the entry's now (the heap's time)."""
        return _epoch_seconds(entry.default_now()) + (self.adjust(next_time_to_run) or 0)

    def populate_heap(self, event_t: Any = event_t, heapify: Callable[[list[Any]], None] = heapq.heapify) -> None:
        """Rebuild the heap from the schedule: due entries now, the others when they say."""
        self._heap = []
        for entry in self.schedule.values():
            is_due, next_call_delay = self._checked_is_due(entry, of_entry=True)
            self._heap.append(event_t(self._when(entry, 0 if is_due else next_call_delay) or 0, _PRIORITY, entry))
        heapify(self._heap)

    # -- ticking --------------------------------------------------------------------------------------
    def tick(self, event_t: Any = event_t, min: Callable[..., Any] = min,  # noqa: A002 - Celery's signature
             heappop: Callable[..., Any] = heapq.heappop, heappush: Callable[..., Any] = heapq.heappush) -> float:
        """Send at most one due entry; return the seconds until the next tick should run."""
        if self._heap is None or not self.schedules_equal(self.old_schedulers, self.schedule):
            self.old_schedulers = copy.copy(self.schedule)
            self.populate_heap()
        heap = self._heap
        if not heap:
            return self.max_interval
        event = heap[0]
        entry = event[2]
        now = self._when(entry, 0)
        if event[0] > now:
            return min(event[0] - now, self.max_interval)
        is_due, next_time_to_run = self._checked_is_due(entry)
        verify = heappop(heap)
        if verify is not event:  # another entry took the top while is_due ran: look again next tick
            heappush(heap, verify)
            return min(verify[0] - self._when(verify[2], 0), self.max_interval)
        if is_due:
            next_entry = self.reserve(entry)
            self.apply_entry(entry, producer=self.producer)
            heappush(heap, event_t(self._when(next_entry, next_time_to_run), event[1], next_entry))
            return 0
        return self._reheap_not_due(heap, event, entry, next_time_to_run)

    def _reheap_not_due(self, heap: list[Any], event: Any, entry: ScheduleEntry, next_time_to_run: Any) -> float:
        """The heap said due but the entry asks for later: move it there so the entries behind it get a turn."""
        delay = next_time_to_run if isinstance(next_time_to_run, (int, float)) else self.max_interval
        heapq.heappush(heap, event_t(self._when(entry, delay), event[1], entry))
        if heap and heap[0][2] is not entry:
            return 0
        return min(self.adjust(delay) or 0, self.max_interval)

    def reserve(self, entry: ScheduleEntry) -> ScheduleEntry:
        new_entry = self.schedule[entry.name] = next(entry)
        return new_entry

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        """Send ``entry`` now, logging (not raising) a failed send, as Celery beat does."""
        log.info("Scheduler: Sending due task %s (%s)", entry.name, entry.task)
        try:
            result = self.apply_async(entry, producer=producer, advance=False)
        except Exception as exc:
            log.error("Message Error: %s", exc, exc_info=True)
        else:
            log.debug("%s sent. id->%s", entry.task, getattr(result, "id", None))

    def apply_async(self, entry: ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any) -> Any:
        """Send one run of ``entry`` (header ``celery_beat_task``); a failure raises :class:`SchedulingError`."""
        entry = self.reserve(entry) if advance else entry
        task = self.app.tasks.get(entry.task)
        try:
            args = [_evaluate(v) for v in entry.args or ()]
            kwargs = {k: _evaluate(v) for k, v in (entry.kwargs or {}).items()}
            options = dict(entry.options)
            options["headers"] = {**(options.get("headers") or {}), "celery_beat_task": True}
            if task is not None:
                return task.apply_async(args, kwargs, producer=producer, **options)
            return self.send_task(entry.task, args, kwargs, producer=producer, **options)
        except Exception as exc:
            raise SchedulingError(f"Couldn't apply scheduled task {entry.name}: {exc}") from exc
        finally:
            self._tasks_since_sync += 1
            if self.should_sync():
                self._do_sync()

    def send_task(self, *args: Any, **kwargs: Any) -> Any:
        return self.app.send_task(*args, **kwargs)

    # -- persistence hooks ----------------------------------------------------------------------------
    def should_sync(self) -> bool:
        stale = not self._last_sync or (time.monotonic() - self._last_sync) > self.sync_every
        return bool(stale or (self.sync_every_tasks and self._tasks_since_sync >= self.sync_every_tasks))

    def _do_sync(self) -> None:
        try:
            self.sync()
        finally:
            self._last_sync = time.monotonic()
            self._tasks_since_sync = 0

    def sync(self) -> None:
        """Persist the schedule (nothing to do for the in-memory scheduler)."""

    def close(self) -> None:
        self.sync()

    @property
    def producer(self) -> Any:
        """Sends go through the app's own producer; ``None`` lets each send use it."""
        return None

    @property
    def info(self) -> str:
        return ""


class PersistentScheduler(Scheduler):
    """A scheduler whose entries (last run, run count) survive restarts in a :mod:`shelve` file."""

    persistence = shelve
    _store: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.schedule_filename = kwargs.get("schedule_filename") or args[0].conf.get("beat_schedule_filename")
        super().__init__(*args, **kwargs)

    def _open_schedule(self) -> Any:
        return self.persistence.open(self.schedule_filename, writeback=True)

    def setup_schedule(self) -> None:
        """Open the file, drop it when the timezone settings changed, then merge ``beat_schedule`` in."""
        self._store = self._open_schedule()
        zone, utc = self.app.conf.get("timezone"), self.app.conf.get("enable_utc")
        if self._store.get("tz", zone) != zone or self._store.get("utc_enabled", utc) != utc:
            log.warning("beat: timezone settings changed, resetting the stored schedule")
            self._store.clear()
        self._store.setdefault("entries", {})
        self.merge_inplace(self.app.conf.get("beat_schedule") or {})
        self.install_default_entries(self.schedule)
        self._store.update({"__version__": "taskora", "tz": zone, "utc_enabled": utc})
        self.sync()

    def get_schedule(self) -> Any:
        return self._store["entries"]

    def set_schedule(self, schedule: Any) -> None:
        self._store["entries"] = schedule

    schedule = property(get_schedule, set_schedule)

    def sync(self) -> None:
        if self._store is not None:
            self._store.sync()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._store is not None:
                self._store.close()
                self._store = None

    @property
    def info(self) -> str:
        return f"    . db -> {self.schedule_filename}"


class Service:
    """Runs a scheduler's tick loop until :meth:`stop` (``celery.beat.Service``)."""

    scheduler_cls: Any = PersistentScheduler

    def __init__(self, app: Any, max_interval: float | None = None, schedule_filename: str | None = None,
                 scheduler_cls: Any = None, remote_control: bool | None = None, hostname: str | None = None) -> None:
        self.app = app
        self.max_interval = max_interval or app.conf.get("beat_max_loop_interval")
        self.scheduler_cls = scheduler_cls or app.conf.get("beat_scheduler") or self.scheduler_cls
        self.schedule_filename = schedule_filename or app.conf.get("beat_schedule_filename")
        self.remote_control = app.conf.get("beat_enable_remote_control") if remote_control is None else remote_control
        self.hostname = hostname
        self._scheduler: Scheduler | None = None
        #: The remote-control node (``_beat_pidbox.BeatPidbox``) while beat runs with remote control on.
        self._pidbox: Any = None
        #: ``time.monotonic()`` of the loop's last tick: what the node reads to tell a wedged beat.
        self._last_tick: float | None = None
        self.effective_max_interval: float | None = None
        self._is_shutdown = threading.Event()
        self._is_stopped = threading.Event()

    def __reduce__(self) -> Any:
        return self.__class__, (self.app, self.max_interval, self.schedule_filename, self.scheduler_cls,
                                self.remote_control, self.hostname)

    def start(self, embedded_process: bool = False) -> None:
        """Tick until stopped, sleeping what each tick asks (woken at once by :meth:`stop`); then close."""
        from .signals import beat_init

        beat_init.send(sender=self)
        self.effective_max_interval = self.scheduler.max_interval
        self._start_pidbox()
        self._last_tick = time.monotonic()  # a beat wedged before its first pass goes stale too
        try:
            while not self._is_shutdown.is_set():
                interval = self.scheduler.tick()
                self._last_tick = time.monotonic()
                if interval and interval > 0.0 and not self._is_shutdown.wait(interval):
                    if self.scheduler.should_sync():
                        self.scheduler._do_sync()
        except (KeyboardInterrupt, SystemExit):
            self._is_shutdown.set()
        finally:
            self.sync()
            if self._pidbox is not None:
                self._pidbox.stop()

    def _start_pidbox(self) -> None:
        """With remote control on (``beat_enable_remote_control``), answer ``ping`` as ``celerybeat@host``."""
        if self.remote_control:
            from ._beat_pidbox import BeatPidbox

            self._pidbox = BeatPidbox(self)
            self._pidbox.start()

    def sync(self) -> None:
        self.scheduler.close()
        self._is_stopped.set()

    def stop(self, wait: bool = False) -> None:
        self._is_shutdown.set()
        if wait:
            self._is_stopped.wait()

    def get_scheduler(self, lazy: bool = False, extension_namespace: str = "celery.beat_schedulers") -> Scheduler:
        cls = scheduler_class(self.scheduler_cls)
        return cls(app=self.app, schedule_filename=self.schedule_filename, max_interval=self.max_interval,
                   lazy=lazy)

    @property
    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            self._scheduler = self.get_scheduler()
        return self._scheduler


def scheduler_class(spec: Any) -> Any:
    """A scheduler class from a class or a ``module:Class``/``module.Class`` name (``celery.`` → compat)."""
    if not isinstance(spec, str):
        return spec
    import importlib

    module, _, attr = spec.partition(":") if ":" in spec else spec.rpartition(".")
    if module == "celery" or module.startswith("celery."):
        module = "taskora.compat" + module[len("celery"):]
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        from .exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"beat scheduler {spec!r} cannot be imported: {exc}") from exc
