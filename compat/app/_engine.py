"""The native side of a Celery app: its :class:`taskora.Taskora`, and one engine task per Celery task.

* ``broker_url`` picks the engine: ``redis://``/``rediss://``/``unix://`` → Redis, ``memory://`` (or
  no broker at all) → the in-process engine. The native app is created on first use, after the
  configuration is loaded.
* Each Celery task is a native task of the same name whose job data is ``{"args", "kwargs"}``; its
  native queue is the task's Celery queue, so ``taskora worker -Q a,b`` selects it. A call routed to
  another queue goes to the engine task ``"<queue>::<name>"`` (see ``base.py``).
* A queue is therefore a set of engine tasks (their keys), and a worker consumes queues by running the
  engine tasks of those queues: with ``-Q a,b`` exactly those; without ``-Q`` Celery's default,
  ``task_default_queue`` plus the queues declared in ``task_queues`` (:class:`CeleryNative`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from taskora import Taskora
from taskora.app import TOPOLOGY_PREFIXES
from taskora.background import BackgroundSender
from taskora.errors import ConfigurationError, RetryError
from taskora.options import UNBOUNDED_ATTEMPTS
from taskora.rate_limits import parse_rate_limit

from ..exceptions import ImproperlyConfigured
from . import _execute
from ._annotations import annotated
from ._content import accepting_serializer
from ._publish_settings import publish_setting
from .routing import Router

if TYPE_CHECKING:
    from .config import Settings
    from .registry import TaskRegistry
    from .task import Task

__all__ = ["EngineMixin", "BUILTIN_TASKS", "CeleryNative", "EXTRA_OPTIONS"]

#: Names Celery always registers (canvas fills in the behaviour of the ones it needs).
BUILTIN_TASKS = ("celery.accumulate", "celery.backend_cleanup", "celery.chain", "celery.chord",
                 "celery.chord_unlock", "celery.chunks", "celery.group", "celery.map", "celery.starmap")
#: Options a Celery task keeps in the native task's ``extra`` (read by the worker / CLI).
EXTRA_OPTIONS = ("celery_task", "soft_time_limit", "time_limit", "acks_late", "reject_on_worker_lost",
                 "rate_limit", "celery_queue")
_PER_CALL_QUEUE_SEP = "::"


class CeleryNative(Taskora):
    """The native app of a Celery app: a worker given no queues consumes Celery's default queues.

    Native apps run every task when no queue is named; a Celery worker started without ``-Q`` consumes
    only ``task_default_queue`` and the declared ``task_queues``, so tasks routed elsewhere (a
    ``task_routes`` entry, ``@app.task(queue=...)``) wait for a worker of their own queue.
    """

    #: Returns the queues a worker consumes when none are named (set by the Celery app).
    default_worker_queues: Callable[[], list[str]] | None = None
    #: Celery's ``-c N``: N jobs at a time for the whole worker process (taskora/worker/budget.py).
    worker_concurrency_scope = "process"
    #: Returns ``worker_concurrency``, the default of ``-c`` (set by the Celery app).
    worker_default_concurrency: Callable[[], int | str | None] | None = None  # str: "auto"
    #: Returns (``worker_prefetch_multiplier``, ``worker_disable_prefetch``) (set by the Celery app; budget.py).
    worker_prefetch: Callable[[], tuple[Any, Any]] | None = None
    #: Returns the ``taskora_background_dispatch`` setting (set by the Celery app), read at each publish.
    background_setting: Callable[[], Any] | None = None

    def __init__(self, adapter: Any, *, owns_adapter: bool = False, **options: Any) -> None:
        super().__init__(adapter, **options)
        #: An adapter the Celery app built from its broker URL is its own: ``close()`` closes its sockets (left
        #: to the garbage collector, each was a ResourceWarning wherever a collection found it)
        self._owns_connections = self._owns_connections or owns_adapter

    def select_tasks(self, names: Iterable[str] | None = None, queues: Iterable[str] | None = None) -> list[Any]:
        if names is None and queues is None and self.default_worker_queues is not None:
            queues = self.default_worker_queues()
        return super().select_tasks(names, queues)

    def background_sender(self) -> BackgroundSender | None:
        """As the native app's, with ``background_dispatch`` following the Celery app's setting as it changes."""
        if self.background_setting is not None:
            self.background_dispatch = bool(self.background_setting())
        return super().background_sender()


class EngineMixin:
    """Creates the native app lazily and keeps one native task per Celery task (and per extra queue)."""

    conf: Settings
    main: str | None
    _tasks: TaskRegistry
    _lock: threading.RLock
    _native: Taskora | None
    _router: Router | None

    if TYPE_CHECKING:  # provided by _tasks.TaskMixin

        def finalize(self, auto: bool = False) -> None: ...

    @property
    def __taskora_app__(self) -> Taskora:
        """The native app this Celery app runs on (what ``taskora worker -A`` starts workers for)."""
        with self._lock:
            if self._native is None:
                self._native = self._make_native()
                self._attach_canvas(self._native)
                self._attach_beat(self._native)
            self.finalize(auto=True)
            self._sync_native()
            return self._native

    def _attach_canvas(self, native: Taskora) -> None:
        """Canvas builtins (celery.map/starmap) get engine twins; chord errbacks listen on the engine."""
        from .. import _canvas_worker

        _canvas_worker.attach(self, native)

    def _attach_beat(self, native: Taskora) -> None:
        """``beat_schedule`` and ``add_periodic_task`` entries become the native scheduler's schedules, which
        ``taskora beat -A proj`` / ``taskora worker -B`` run (read when the scheduler starts)."""
        from ..beat import install_beat_schedule

        install_beat_schedule(self, native)

    def _make_native(self) -> Taskora:
        effective = self.conf.effective()
        url = effective.broker_url
        from ._effective import result_retention  # Celery's result_expires, in the engine's terms

        retention = result_retention(effective)
        adapter: Any = url if url and not url.startswith("memory") else None
        if url and url.startswith(("redis://", "rediss://", "unix://", *TOPOLOGY_PREFIXES)):
            from taskora.redis import redis_adapter

            url = _with_master_name(url, self.conf.get("broker_transport_options") or {})
            adapter = redis_adapter({"url": url, **effective.connection_options},
                                    prefix=effective.key_prefix.rstrip(":") or None)
        try:
            native = CeleryNative(adapter, retention=retention, serializer=accepting_serializer(self.conf),
                                  name=self.main or "celery", owns_adapter=not isinstance(adapter, str | None))
        except ConfigurationError as exc:
            raise ImproperlyConfigured(str(exc).replace("unsupported broker URL", "broker_url", 1)) from exc
        native.default_worker_queues = self.default_worker_queues
        native.worker_default_concurrency = lambda: self.conf.effective().worker_concurrency
        native.worker_prefetch = lambda: (self.conf.get("worker_prefetch_multiplier"),
                                          self.conf.get("worker_disable_prefetch"))
        native.background_setting = lambda: publish_setting(self.conf, "taskora_background_dispatch")
        return native

    @property
    def router(self) -> Router:
        if self._router is None:
            self._router = Router(self.conf)
        return self._router

    def _sync_native(self) -> None:
        """Register every Celery task that has no native twin yet (tasks may be added at any time)."""
        native = self._native
        if native is None:
            return
        for name, task in list(self._tasks.items()):
            if name not in native.tasks and not name.startswith("celery."):
                self._register_native(task, self._home_queue(task))
            elif name not in native.tasks and getattr(task, "run", None) is not None and task.name in BUILTIN_TASKS:
                continue

    def _home_queue(self, task: Task) -> str:
        own = getattr(task, "queue", None)
        assert task.name is not None  # only registered (so named) tasks get here
        return self.router.route(task.name, task=task, task_queue=getattr(own, "name", own))["queue"]

    def _native_name(self, name: str, queue: str, home: str) -> str:
        return name if queue == home else f"{queue}{_PER_CALL_QUEUE_SEP}{name}"

    def _register_native(self, task: Task, queue: str, engine_name: str | None = None) -> Any:
        native = self._native
        assert native is not None
        engine_name = engine_name or task.name
        assert engine_name is not None  # only registered (so named) tasks get here
        if engine_name in native.tasks:
            return native.tasks[engine_name]
        task._install_autoretry()
        extra = {"celery_task": task, "soft_time_limit": task.resolved("soft_time_limit"),
                 "time_limit": task.resolved("time_limit"), "acks_late": task.resolved("acks_late"),
                 "reject_on_worker_lost": task.resolved("reject_on_worker_lost"),
                 "rate_limit": self._rate_limit(task), "celery_queue": queue}
        for key in ("soft_time_limit", "time_limit"):  # unset: the worker's --(soft-)time-limit applies
            if extra[key] is None:
                del extra[key]
        return native.register_task(
            engine_name, _execute.make_handler(self, task), allowed_extra=EXTRA_OPTIONS, queue=queue,
            # unbounded: Task.retry counts and limits a Celery task's retries (its jobs store no maxAttempts)
            retry={"attempts": UNBOUNDED_ATTEMPTS, "retry_on": (RetryError,), "backoff": "fixed", "delay": 0,
                   "jitter": False},
            keep_result=not task.resolved("ignore_result"), **self._stall_options(task), **extra)  # fmt: skip

    def _rate_limit(self, task: Task) -> Any:
        """The task's ``rate_limit`` (``task_annotations`` over its own, then ``task_default_rate_limit``), checked
        now so a typo fails at registration; None when ``worker_disable_rate_limits`` is set."""
        if self.conf.get("worker_disable_rate_limits"):
            return None
        found, value = annotated(self.conf.get("task_annotations"), task, "rate_limit")
        if not found:
            value = task.resolved("rate_limit")
        try:
            return parse_rate_limit(value, name=f"{task.name}: rate_limit")
        except ConfigurationError as exc:
            raise ImproperlyConfigured(str(exc)) from exc

    def _stall_options(self, task: Task | None = None) -> dict[str, Any]:
        """``stall`` for an engine task: the explicit ``visibility_timeout`` becomes the lock lease.

        Celery's default (3600 s on Redis) is not copied: taskora's 30 s heart-beaten lease recovers a
        dead worker's job within seconds instead of an hour, without redelivering live ones. A task with
        ``acks_late`` and ``reject_on_worker_lost`` is redelivered however often its worker is lost, as in Celery.
        """
        redeliver = task is not None and all(task.resolved(name) for name in ("acks_late", "reject_on_worker_lost"))
        lost: dict[str, Any] = {"max_lost": None} if redeliver else {}
        value = (self.conf.get("broker_transport_options") or {}).get("visibility_timeout")
        if value is None:
            return {"stall": lost} if lost else {}
        seconds = value.total_seconds() if isinstance(value, timedelta) else value
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise ImproperlyConfigured("broker_transport_options['visibility_timeout'] must be a positive number "
                                       f"of seconds (or a timedelta), got {value!r}")
        return {"stall": {"interval": float(seconds), **lost}}

    def _engine_task(self, task: Task | None, name: str, queue: str) -> Any:
        native = self.__taskora_app__
        if task is None:
            if name not in native.tasks:
                native.register_task(name, None, queue=queue, **self._stall_options())
            return native.tasks[name]
        assert task.name is not None  # only registered (so named) tasks get here
        home = native.tasks[task.name].options.queue if task.name in native.tasks else queue
        return self._register_native(task, queue, self._native_name(task.name, queue, home))

    def _engine_names_for(self, name: str | None) -> list[str] | None:
        """Engine task names a job of Celery task ``name`` may live under (None: search every task)."""
        native = self.__taskora_app__
        if name is None:
            return None
        return [n for n in native.tasks if n == name or n.endswith(f"{_PER_CALL_QUEUE_SEP}{name}")]

    def default_worker_queues(self) -> list[str]:
        """The queues a worker started without ``-Q`` consumes, as Celery's: ``task_default_queue`` and every
        queue declared in ``task_queues`` (their engine twins are registered here)."""
        default = self.router.default_queue
        queues = [default, *(name for name in self.router.queues if name != default)]
        self.select_queues(queues)
        return queues

    def select_queues(self, queues: Iterable[str] | None = None) -> None:
        """Prepare a worker consuming ``queues`` (``-Q``): every task also gets an engine twin per queue."""
        native = self.__taskora_app__
        wanted = set(queues or ()) | {spec for spec in self.router.queues}
        for name, task in list(self._tasks.items()):
            if name.startswith("celery.") or name not in native.tasks:
                continue
            home = native.tasks[name].options.queue
            for queue in wanted - {home}:
                self._register_native(task, queue, self._native_name(name, queue, home))
        from . import _revoke, _unknown

        _revoke.attach(self, native)  # a worker sends task_revoked for terminated and expired jobs
        _unknown.attach(self, native)  # and task_unknown for the jobs of unknown tasks it fails

    def _tracks_started(self, job: dict[str, Any]) -> bool:
        task = self._tasks.get(str(job.get("celery.task") or ""))
        return bool(task is not None and task.resolved("track_started"))


def _with_master_name(url: str, transport_options: Any) -> str:
    """kombu names a Sentinel master in ``broker_transport_options['master_name']``; taskora in the URL."""
    name = transport_options.get("master_name") if isinstance(transport_options, dict) else None
    if not name or not url.startswith("sentinel://") or "master_name=" in url:
        return url
    return f"{url}{'&' if '?' in url.rpartition(';')[2] else '?'}master_name={name}"
