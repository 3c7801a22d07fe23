"""Taskora: the app. It owns the adapter, the task registry, defaults, middleware and events, and
starts in-process workers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import event_values
from .adapters.base import Adapter
from .adapters.redis import RedisAdapter
from .adapters.topology import CLUSTER_SCHEMES, SENTINEL_SCHEMES
from .background import BackgroundSender
from .cleaning import DEFAULT_BATCH as CLEAN_BATCH
from .clock import Clock
from .durations import Duration
from .errors import ConfigurationError, UnknownTaskError
from .events import APP_EVENTS, TASK_EVENTS, Emitter, Event
from .handles import ResultHandle
from .job_fields import check_utf8
from .middleware import Middleware
from .options import TaskOptions, build_task_options, parse_retention
from .serialization import Serializer, get_serializer
from .stream import EventStream
from .task import Task
from .urls import mask_url
from .workflow.runtime import WorkflowRuntime

log = logging.getLogger("taskora.app")


#: Cluster and Sentinel URL schemes (taskora/adapters/topology.py), as prefixes.
TOPOLOGY_PREFIXES = tuple(f"{scheme}://" for scheme in (*CLUSTER_SCHEMES, *SENTINEL_SCHEMES))

def resolve_adapter(adapter: Adapter | str | None, clock: Clock | None = None) -> Adapter:
    """``None`` or ``"memory://"``: the in-memory engine; a ``redis://`` URL: Redis; else the adapter itself."""
    if adapter is None or adapter == "memory://" or adapter == "memory":
        from .memory import memory_adapter

        return memory_adapter(clock=clock)
    if isinstance(adapter, str):
        if not adapter.startswith(("redis://", "rediss://", "unix://", "valkey://", *TOPOLOGY_PREFIXES)):
            raise ConfigurationError(f"unsupported broker URL {mask_url(adapter)!r}: use redis://, rediss://, "
                                     f"unix://, redis+cluster://, redis+sentinel:// or memory://")
        from .redis import redis_adapter

        return redis_adapter(adapter.replace("valkey://", "redis://", 1), clock=clock)
    if isinstance(adapter, RedisAdapter):
        return adapter
    raise ConfigurationError(f"adapter must be a URL, redis_adapter() or memory_adapter(), got {adapter!r}")


class Taskora:
    """A taskora application.

    Args:
        adapter: ``redis_adapter(...)``, ``memory_adapter()``, a ``redis://`` URL, or None for the
            in-memory engine.
        defaults: task options every task starts from (``retry``, ``timeout``, ``concurrency``...).
        retention: how long finished jobs are kept (``{"completed": {"max_age": "1h", "max_items": 100}}``).
        serializer: ``"json"`` (default), a kombu serializer name, or an object with dumps/loads.
        allow_pickle: must be True for ``serializer="pickle"``, whose payloads run code when loaded.
        validate_on_dispatch: validate input against the task's schema before enqueueing (default True).
        background_dispatch: ``dispatch()`` queues the job and returns before it is in Redis; a sender thread
            writes queued jobs in batches (taskora/background.py: what it gives up, and when a job is durable).
    """

    def __init__(
        self,
        adapter: Adapter | str | None = None,
        *,
        defaults: Mapping[str, Any] | None = None,
        retention: Mapping[str, Any] | None = None,
        serializer: str | Serializer | None = None,
        clock: Clock | None = None,
        name: str | None = None,
        scheduler: Mapping[str, Any] | None = None,
        allow_pickle: bool = False,
        validate_on_dispatch: bool = True,
        background_dispatch: bool = False,
    ) -> None:
        self.adapter: Adapter = resolve_adapter(adapter, clock)
        #: Built here from a URL: its sockets are ours to close (a user's adapter or client is theirs).
        self._owns_connections = isinstance(adapter, str) and adapter not in ("memory://", "memory")
        self.defaults: TaskOptions = build_task_options(defaults or {})
        self.retention = parse_retention(retention)
        self.serializer = get_serializer(serializer, allow_pickle=allow_pickle)
        self.name = name or "taskora"
        #: Validate input against a task's schema at dispatch (``dispatch(..., skip_validation=True)`` per call).
        self.validate_on_dispatch = bool(validate_on_dispatch)
        #: ``dispatch()`` returns before the job is in Redis (taskora/background.py); never in a process running jobs.
        self.background_dispatch = bool(background_dispatch)
        self._sender: BackgroundSender | None = None
        self._sender_lock = threading.Lock()
        self._dispatch_waits = False  # its worker or scheduler runs in this process: dispatches wait (background.py)
        self.tasks: dict[str, Task[Any, Any]] = {}
        self.events = Emitter(APP_EVENTS, "app")
        #: The workflow entry points a signature's ``dispatch()`` and a handle's ``cancel()`` call.
        self.workflows = WorkflowRuntime(self)
        self.middleware: list[Middleware] = []
        self._stream: EventStream | None = None
        self._stream_lock = threading.Lock()
        self._worker: Any = None
        #: Scheduler runner settings (``poll_interval``, ``lock_ttl``, ``prune``); see SchedulerRunner.
        self.scheduler_options: dict[str, Any] = dict(scheduler or {})
        self._schedules: Any = None
        #: The scheduler ``start()`` runs (a SchedulerRunner), None when not started or opted out.
        self.scheduler_runner: Any = None

    def __repr__(self) -> str:
        return f"<Taskora {self.name} on {mask_url(self.adapter.address)}>"

    # -- tasks ------------------------------------------------------------------------------------
    def task(self, name: str | Callable[..., Any] | None = None, handler: Callable[..., Any] | None = None,
             **options: Any) -> Any:  # fmt: skip
        """Declare a task: ``@app.task("name", retry={...})``, ``@app.task``, or ``app.task("name", fn)``.

        Unknown options, bad values and a name used twice raise ConfigurationError here.
        """
        if callable(name) and handler is None:  # bare @app.task
            return self._register(_default_name(name), name, options)
        if handler is not None:
            return self._register(_default_name(handler) if name is None else name, handler, options)
        _check_task_name(name, allow_none=True)  # a bad name fails at the decorator, not at the function below

        def decorate(fn: Callable[..., Any]) -> Task[Any, Any]:
            return self._register(_default_name(fn) if name is None else name, fn, options)

        return decorate

    def _register(self, name: str | Callable[..., Any], handler: Callable[..., Any] | None,
                  options: Mapping[str, Any],
                  allowed_extra: Iterable[str] = ()) -> Task[Any, Any]:  # fmt: skip
        _check_task_name(name)  # also rejects a function passed where the name goes: app.task(fn, handler)
        assert isinstance(name, str)  # for the type checker: _check_task_name raised otherwise
        if name in self.tasks:
            raise ConfigurationError(f"task name {name!r} is already registered on this app")
        task_options = build_task_options(options, self.defaults, allowed_extra=tuple(allowed_extra))
        task: Task[Any, Any] = Task(self, name, handler, task_options)
        if task.options.schedule is not None:  # validated before the task is registered
            self.schedules.declare(name, task=name, check_task=False, **task.options.schedule)
        self.tasks[name] = task
        if any(self.events.has(f"task:{e}") for e in TASK_EVENTS):
            self._events_reader().listen(name)
        return task

    def register_task(self, name: str, handler: Callable[..., Any] | None, *, allowed_extra: Iterable[str] = (),
                      **options: Any) -> Task[Any, Any]:  # fmt: skip
        """Register a task programmatically; ``allowed_extra`` names options a front-end keeps in ``extra``."""
        return self._register(name, handler, options, allowed_extra)

    def register(self, contract: Any) -> Task[Any, Any]:
        """A producer-side task for a contract (``define_task``): dispatch and await it without its handler."""
        from .contracts import register

        return register(self, contract)

    def implement(self, contract: Any, handler: Callable[..., Any] | None = None, **options: Any) -> Any:
        """Attach the handler (and worker-side options) to a contract; without handler, a decorator."""
        from .contracts import implement

        return implement(self, contract, handler, **options)

    def get_task(self, name: str) -> Task[Any, Any]:
        try:
            return self.tasks[name]
        except KeyError:
            raise UnknownTaskError(
                f"no task named {name!r} is registered; known: {', '.join(sorted(self.tasks)) or 'none'}"
            ) from None

    def dispatch(self, task: str, data: Any = None, **options: Any) -> ResultHandle[Any]:
        """Dispatch by task name (the task must be registered, possibly as a contract without handler)."""
        return self.get_task(task).dispatch(data, **options)

    def background_sender(self) -> BackgroundSender | None:
        """The sender a dispatch hands its job to, or None when dispatches wait (the default; beside a worker or the
        scheduler of this app)."""
        if not self.background_dispatch or self._dispatch_waits:
            return None
        if self._sender is None:
            with self._sender_lock:
                if self._sender is None:
                    self._sender = BackgroundSender(self.adapter)
        return self._sender

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every job dispatched in the background so far is in Redis (or its handle holds the error
        that kept it out); TimeoutError after ``timeout`` seconds. Nothing to wait for when dispatches wait."""
        if self._sender is not None:
            self._sender.flush(timeout)

    def handle(self, task: str, job_id: str) -> ResultHandle[Any]:
        return ResultHandle(self, task, job_id)

    def locate(self, job_id: str, among: Iterable[str] | None = None) -> ResultHandle[Any] | None:
        """A handle on job ``job_id`` when only its id is known, searching this app's tasks (or ``among``)."""
        task = self.adapter.find_task_of(job_id, list(among) if among is not None else list(self.tasks))
        return None if task is None else ResultHandle(self, task, job_id)

    # -- schedules ----------------------------------------------------------------------------------
    @property
    def schedules(self) -> Any:
        """The ScheduleManager: ``list/pause/resume/update/remove/trigger`` on stored schedules."""
        if self._schedules is None:
            from .scheduler.manager import ScheduleManager

            self._schedules = ScheduleManager(self)
        return self._schedules

    def schedule(self, name: str, *, task: str, every: Any = None, cron: str | None = None,
                 timezone: str | None = None, data: Any = None, on_missed: str | None = None,
                 overlap: bool = False) -> Any:  # fmt: skip
        """Declare a named schedule of a registered task (``every=`` duration or ``cron=`` + ``timezone=``).

        Unknown task, bad cron, unknown zone or policy raise ConfigurationError here; the scheduler
        (``taskora worker -B`` / ``taskora beat``) stores and runs it.
        """
        return self.schedules.declare(name, task=task, every=every, cron=cron, timezone=timezone, data=data,
                                      on_missed=on_missed, overlap=overlap)

    # -- reading and repairing ---------------------------------------------------------------------
    def inspect(self) -> Any:
        """Read-only queue views: ``inspect().waiting()/active()/.../stats()/find(id)``."""
        from .inspector import Inspector

        return Inspector(self)

    @property
    def dead_letters(self) -> Any:
        """Failed jobs: ``dead_letters.list()``, ``.retry(job_id)``, ``.retry_all()``."""
        from .inspector import DeadLetters

        return DeadLetters(self)

    def clean(self, task: str, *, state: str = "completed", older_than: Duration = 0, limit: int | None = None,
              batch: int = CLEAN_BATCH) -> int:  # fmt: skip
        """Delete ``task``'s jobs in the finished ``state`` that finished more than ``older_than`` ago (a
        duration), at most ``limit``, in batches of ``batch``; returns how many went (taskora/cleaning.py)."""
        from . import cleaning

        self.get_task(task)
        request = cleaning.make_request(task, self.adapter.now_ms(), state=state, older_than=older_than,
                                        limit=limit, batch=batch)
        return cleaning.run(self.adapter, request)

    # -- middleware and events ---------------------------------------------------------------------
    def use(self, middleware: Middleware) -> Taskora:
        """Add app-wide middleware (runs outside each task's own middleware)."""
        self.middleware.append(middleware)
        return self

    def on(self, event: str, listener: Callable[..., Any]) -> Callable[[], None]:
        """Listen to app events: ``task:completed``, ``task:failed``... and ``worker:ready/error/closing``."""
        off = self.events.on(event, listener)
        if event.startswith("task:"):
            reader = self._events_reader()
            for name in self.tasks:
                reader.listen(name)
        return off

    def rebind(self, adapter: Adapter) -> Adapter:
        """Point this app (and so every task of it) at another engine; returns the adapter it used.

        The TestRunner and the pytest plugin use it to run a production app in memory or on a test Redis.
        The event reader, tied to the old engine, is stopped; a new one starts on the new engine. Jobs dispatched
        in the background before are written to the old engine first.
        """
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        with self._stream_lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
        previous, self.adapter = self.adapter, adapter
        if any(self.events.has(f"task:{e}") for e in TASK_EVENTS) or any(
                any(t.events.has(e) for e in TASK_EVENTS) for t in self.tasks.values()):
            reader = self._events_reader()
            for name in self.tasks:
                reader.listen(name)
        return previous

    def _events_reader(self) -> EventStream:
        with self._stream_lock:
            if self._stream is None:
                self._stream = EventStream(self)
            return self._stream

    def _emit_stream_event(self, task_name: str, name: str, job_id: str, fields: dict[str, str]) -> None:
        task = self.tasks.get(task_name)
        wanted = (task is not None and task.events.has(name)) or self.events.has(f"task:{name}")
        if not wanted or name not in TASK_EVENTS:
            return
        event = self._build_event(task_name, name, job_id, fields)
        if task is not None:
            task.events.emit(name, event)
        self.events.emit(f"task:{name}", event)

    def _build_event(self, task_name: str, name: str, job_id: str, fields: dict[str, str]) -> Event:
        event = Event(name=name, task=task_name, id=job_id, reason=fields.get("reason"), action=fields.get("action"),
                      error=fields.get("error"))
        if "count" in fields:
            event.count = int(fields["count"])
        if name == "collect":  # an item joined buffer ``key`` (count: its size now); id: the flush job armed
            event.extra["key"] = fields.get("key")
        if name == "retrying":
            event.attempt = int(fields.get("attempt", 0)) - 1
            event.next_attempt_at = int(fields["nextAttemptAt"]) if "nextAttemptAt" in fields else None
            event.extra["failed_at"] = int(fields["failedAt"]) if "failedAt" in fields else None
            event.will_retry = True
        if "replacedBy" in fields:  # debounced: the job that replaced this one (taskora/flow_control.py)
            event.extra["replaced_by"] = fields["replacedBy"]
        if name == "progress":
            event.progress = self._progress_value(fields)
        if name in ("completed", "failed", "active"):
            self._enrich_from_job(event, fields)
        return event

    def _progress_value(self, fields: dict[str, Any]) -> Any:
        """A progress event's value: field ``value`` as TypeScript (and we) write it, or ``progress`` as
        Python taskora wrote it before, so entries already in a stream still parse."""
        raw = fields.get("value", fields.get("progress"))
        return self.serializer.loads(raw) if raw is not None else None

    def _enrich_from_job(self, event: Event, fields: dict[str, Any]) -> None:
        job = self.adapter.get_fields(event.task, event.id, event_values.JOB_FIELDS)
        event.attempt = int(job["attempt"]) if job.get("attempt") else None
        if event.name == "completed":
            event_values.set_result(self, event, fields, job)  # the value handle.result() gives (event_values.py)
        if event.name == "failed":
            event_values.set_failure(event, job)
            event.will_retry = False
        if job.get("processedOn") and job.get("finishedOn"):
            event.duration = (int(job["finishedOn"]) - int(job["processedOn"])) / 1000

    # -- workers ----------------------------------------------------------------------------------
    def start(self, *, tasks: Iterable[str] | None = None, queues: Iterable[str] | None = None,
              concurrency: int | None = None, scheduler: bool | None = None) -> Any:  # fmt: skip
        """Start an in-process worker for the registered tasks (or the given task names / queues).

        Also runs the schedules, leader-elected among every started app and scheduler process
        (``scheduler=False`` opts out; the default runs it when schedules are declared).
        Returns the Worker; ``close()`` stops both. Tasks without a handler here are skipped.
        """
        from .scheduler.embedded import prepare_scheduler
        from .worker.loop import Worker

        if self._worker is not None:
            raise ConfigurationError("this app already runs a worker; close() it first")
        if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int)
                                        or concurrency < 1):
            raise ConfigurationError(f"start: concurrency must be an integer >= 1, got {concurrency!r}")
        selected = self.select_tasks(tasks, queues)
        runner = prepare_scheduler(self, scheduler)
        worker = Worker(self, selected, concurrency=concurrency)
        worker.start()
        self._worker = worker
        if runner is not None:
            self.scheduler_runner = runner.start()
        return worker

    def broadcast(self, command: str, *, args: Mapping[str, Any] | None = None, timeout: float = 1.0,
                  destination: Iterable[str] | None = None, limit: int | None = None) -> dict[str, Any]:  # fmt: skip
        """Ask live ``taskora worker`` processes a control command (``ping``, ``active``, ``scheduled``,
        ``stats``, ``registered``); returns ``{hostname: reply}`` from those that answered within ``timeout``,
        or as soon as ``limit`` of them (or every named ``destination``) have."""
        from .worker.control import broadcast

        return broadcast(self, command, args=dict(args or {}), timeout=timeout, destination=destination,
                         limit=limit)

    def select_tasks(self, names: Iterable[str] | None = None,
                     queues: Iterable[str] | None = None) -> list[Task[Any, Any]]:  # fmt: skip
        chosen = [self.get_task(n) for n in names] if names is not None else list(self.tasks.values())
        if queues is not None:
            wanted = set(queues)
            chosen = [t for t in chosen if t.options.queue in wanted]
        return [t for t in chosen if t.handler is not None]

    def close(self, timeout: float | None = None) -> None:
        """Stop the scheduler, the worker (finishing active jobs, up to ``timeout`` seconds) and the event reader,
        and close the connections of an app built from a URL (they reopen if the app is used again).

        Jobs dispatched in the background are written first, however long Redis takes to answer: ``flush(t)``
        before ``close()`` bounds that wait (TimeoutError names how many jobs are still queued).
        """
        if self._sender is not None:
            self._sender.close()  # before the connections it writes on
        if self.scheduler_runner is not None:
            self.scheduler_runner.stop()
            self.scheduler_runner = None
        if self._worker is not None:
            self._worker.stop(timeout)
            self._worker = None
        if self._stream is not None:
            self._stream.stop()
        if self._owns_connections:
            self.adapter.close()

    def __enter__(self) -> Taskora:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _check_task_name(name: Any, *, allow_none: bool = False) -> None:
    """A task name is part of every Redis key of the task (``taskora:{<name>}:...``): no braces, no blanks."""
    if name is None and allow_none:
        return
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "{}"):
        raise ConfigurationError(f"task name must be a non-empty string without braces, got {name!r}")
    check_utf8(name, "task name")


def _default_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", None) or repr(fn)


def create_taskora(*args: Any, **kwargs: Any) -> Taskora:
    """The seeds' factory name; same as ``Taskora(...)``."""
    return Taskora(*args, **kwargs)
