"""The ``Celery`` application: Celery's app API over one native :class:`taskora.Taskora`.

* ``broker_url`` picks the engine: ``redis://``/``rediss://``/``unix://`` → Redis, ``memory://`` (or
  no broker at all) → the in-process engine. The native app is created on first use, after the
  configuration is loaded; ``__taskora_app__`` is what ``taskora worker -A proj`` runs.
* Each Celery task is a native task of the same name whose job data is ``{"args", "kwargs"}``.
  Its native queue is the task's Celery queue (decorator ``queue=`` > ``task_routes`` >
  ``task_default_queue``), so ``taskora worker -Q a,b`` selects it.
* **Per-call queues.** The engine keeps jobs per task, and a worker's ``-Q`` selects tasks by queue.
  A call routed to a queue other than its task's own (``apply_async(queue='x')`` or a router
  function deciding per call) is dispatched to the engine task ``"x::<name>"``: the same handler
  registered under queue ``x``, created on demand on the producer and, on workers, for every queue
  given to :meth:`select_queues` (the CLI passes its ``-Q`` list) and every declared ``task_queues``.
* **Priorities.** Celery on Redis treats 0 as the highest priority and no priority as 0; priorities
  fall into ``broker_transport_options['priority_steps']`` (default 0, 3, 6, 9). Native priority is
  ``9 - step`` (higher runs first), so the order is Celery's.
* ``acks_late``/``reject_on_worker_lost``: a taskora job is held under a heart-beaten lock and a dead
  worker's job is recovered by the stall sweep, so delivery is at-least-once either way; both
  settings are accepted and kept in the task's ``extra`` options for the worker to consult.
"""

from __future__ import annotations

import importlib
import socket
import threading
import warnings
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from taskora import Taskora
from taskora.errors import ConfigurationError, RetryError, SerializationError

from .. import _state
from ..exceptions import AlwaysEagerIgnored, EncodeError, ImproperlyConfigured, NotRegistered
from ..result import AsyncResult, GroupResult, ResultSet
from ..signals import Signal
from . import _execute
from .config import Settings
from .registry import TaskRegistry
from .routing import Router
from .task import Context, Task

__all__ = ["Celery", "BUILTIN_TASKS"]

#: Names Celery always registers (canvas fills in the behaviour of the ones it needs).
BUILTIN_TASKS = ("celery.accumulate", "celery.backend_cleanup", "celery.chain", "celery.chord",
                 "celery.chord_unlock", "celery.chunks", "celery.group", "celery.map", "celery.starmap")
#: Native retry attempts of a Celery task: retries are counted (and limited) by ``Task.retry``.
UNLIMITED_ATTEMPTS = 2**31 - 1
#: Options a Celery task keeps in the native task's ``extra`` (read by the worker / CLI).
EXTRA_OPTIONS = ("celery_task", "soft_time_limit", "time_limit", "acks_late", "reject_on_worker_lost",
                 "rate_limit", "celery_queue")
_PER_CALL_QUEUE_SEP = "::"


class Celery:
    """A Celery application (``Celery('proj', broker='redis://…')``); see celery-surface §1."""

    SYSTEM = "taskora"
    Pickler = None

    def __init__(self, main: str | None = None, loader: Any = None, backend: Any = None, amqp: Any = None,
                 events: Any = None, log: Any = None, control: Any = None, set_as_current: bool = True,
                 tasks: Any = None, broker: str | None = None, include: Any = None, changes: Any = None,
                 config_source: Any = None, fixups: Any = None, task_cls: Any = None, autofinalize: bool = True,
                 namespace: str | None = None, strict_typing: bool = True, config_source_silent: bool = False,
                 **kwargs: Any) -> None:  # fmt: skip
        self.main = main
        self.strict_typing = strict_typing
        self.autofinalize = autofinalize
        self.namespace = namespace
        self.set_as_current = set_as_current
        self.on_configure = Signal(name="app.on_configure")
        self.on_after_configure = Signal(name="app.on_after_configure", providing_args={"source"})
        self.on_after_finalize = Signal(name="app.on_after_finalize")
        self.on_after_fork = Signal(name="app.on_after_fork")
        preconf = {k: v for k, v in (changes or {}).items()}
        preconf.update(kwargs)
        for key, value in (("broker_url", broker), ("result_backend", backend), ("include", include)):
            if value is not None:
                preconf[key] = value
        self.conf = Settings(preconf, namespace=namespace, on_configure=self._on_configured)
        if config_source is not None:
            self.conf.config_from_object(config_source, silent=config_source_silent)
        self._task_cls_spec = task_cls
        self._tasks = TaskRegistry()
        self._finalized = False
        self._lock = threading.RLock()
        self._native: Taskora | None = None
        self._router: Router | None = None
        self._autodiscover: list[tuple[Any, str | None]] = []
        self._periodic: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.hostname = _execute.default_hostname()
        self._control: Any = None
        self.user_options: dict[str, set[Any]] = {"worker": set(), "beat": set(), "preload": set()}
        self.steps: dict[str, set[Any]] = {"worker": set(), "consumer": set()}
        _state.register_app(self)
        if set_as_current:
            self.set_current()
        for callback in _state.finalize_callbacks():
            callback(self)

    def __repr__(self) -> str:
        return f"<Celery {self.main or '__main__'} at {id(self):#x}>"

    def __enter__(self) -> Celery:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _on_configured(self, conf: Settings) -> None:
        self.on_configure.send(sender=self)
        self.on_after_configure.send(sender=self, source=conf)
        for args, kwargs in self._periodic:
            self._add_periodic(*args, **kwargs)
        self._periodic.clear()

    # -- app selection ------------------------------------------------------------------------------
    def set_current(self) -> None:
        _state.set_current_app(self)

    def set_default(self) -> None:
        _state.set_default_app(self)

    @property
    def current_task(self) -> Any:
        return _state.get_current_task()

    @property
    def current_worker_task(self) -> Any:
        return _state.get_current_worker_task()

    # -- the native app -------------------------------------------------------------------------------
    @property
    def __taskora_app__(self) -> Taskora:
        """The native app this Celery app runs on (what ``taskora worker -A`` starts workers for)."""
        with self._lock:
            if self._native is None:
                self._native = self._make_native()
            self.finalize(auto=True)
            self._sync_native()
            return self._native

    def _make_native(self) -> Taskora:
        effective = self.conf.effective()
        url = effective.broker_url
        retention = None
        if effective.result_expires:
            retention = {"completed": {"max_age": effective.result_expires, "max_items": 10**9},
                         "failed": {"max_age": max(effective.result_expires, 7 * 86400), "max_items": 10**9}}
        adapter: Any = url if url and not url.startswith("memory") else None
        if url and url.startswith(("redis://", "rediss://", "unix://")) and effective.key_prefix:
            from taskora.redis import redis_adapter

            adapter = redis_adapter(url, prefix=effective.key_prefix.rstrip(":"))
        try:
            return Taskora(adapter, retention=retention, serializer=self.conf.get("task_serializer") or "json",
                           name=self.main or "celery")
        except ConfigurationError as exc:
            raise ImproperlyConfigured(f"broker_url {url!r}: {exc}") from exc

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
        return self.router.route(task.name, task=task, task_queue=getattr(own, "name", own))["queue"]

    def _native_name(self, name: str, queue: str, home: str) -> str:
        return name if queue == home else f"{queue}{_PER_CALL_QUEUE_SEP}{name}"

    def _register_native(self, task: Task, queue: str, engine_name: str | None = None) -> Any:
        native = self._native
        assert native is not None
        engine_name = engine_name or task.name
        if engine_name in native.tasks:
            return native.tasks[engine_name]
        task._install_autoretry()
        extra = {"celery_task": task, "soft_time_limit": task.resolved("soft_time_limit"),
                 "time_limit": task.resolved("time_limit"), "acks_late": task.resolved("acks_late"),
                 "reject_on_worker_lost": task.resolved("reject_on_worker_lost"),
                 "rate_limit": task.resolved("rate_limit"), "celery_queue": queue}
        return native.register_task(
            engine_name, _execute.make_handler(self, task), allowed_extra=EXTRA_OPTIONS, queue=queue,
            retry={"attempts": UNLIMITED_ATTEMPTS, "retry_on": (RetryError,), "backoff": "fixed", "delay": 0,
                   "jitter": False},
            keep_result=not task.resolved("ignore_result"), **extra)  # fmt: skip

    def _engine_task(self, task: Task | None, name: str, queue: str) -> Any:
        native = self.__taskora_app__
        if task is None:
            if name not in native.tasks:
                native.register_task(name, None, queue=queue)
            return native.tasks[name]
        home = native.tasks[task.name].options.queue if task.name in native.tasks else queue
        return self._register_native(task, queue, self._native_name(task.name, queue, home))

    def _engine_names_for(self, name: str | None) -> list[str] | None:
        """Engine task names a job of Celery task ``name`` may live under (None: search every task)."""
        native = self.__taskora_app__
        if name is None:
            return None
        return [n for n in native.tasks if n == name or n.endswith(f"{_PER_CALL_QUEUE_SEP}{name}")]

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

    def _tracks_started(self, job: dict[str, Any]) -> bool:
        task = self._tasks.get(str(job.get("celery.task") or ""))
        return bool(task is not None and task.resolved("track_started"))

    # -- worker integration ----------------------------------------------------------------------------
    def __taskora_worker_init__(self, hostname: str | None = None, pool: str | None = None,
                                concurrency: int | None = None,
                                queues: Iterable[str] | None = None) -> None:  # fmt: skip
        """Called by ``taskora worker -A`` before it starts: imports, default app, signals wiring."""
        from .. import signals
        from ..utils.log import set_current_task_getter

        if hostname:
            self.hostname = hostname if "@" in hostname else f"celery@{hostname}"
        self.set_current()
        self.set_default()
        self.loader_import_default_modules()
        set_current_task_getter(_state.get_current_task)
        native = self.__taskora_app__
        if queues is not None:
            self.select_queues(queues)
        options = {"hostname": self.hostname, "pool": pool, "concurrency": concurrency}
        signals.celeryd_init.send(sender=self.hostname, instance=self, conf=self.conf, options=options)
        signals.celeryd_after_setup.send(sender=self.hostname, instance=self, conf=self.conf)
        signals.worker_init.send(sender=self)
        native.on("worker:ready", lambda *_: signals.worker_ready.send(sender=self))
        native.on("worker:closing", lambda *_: signals.worker_shutting_down.send(
            sender=self.hostname, sig="SIGTERM", how="Warm", exitcode=0))
        for event, signal in (("worker:process-init", signals.worker_process_init),
                              ("worker:shutdown", signals.worker_shutdown)):
            try:
                native.on(event, lambda *_a, _s=signal: _s.send(sender=self.hostname))
            except ValueError:  # the native worker does not emit this event (yet)
                pass

    def loader_import_default_modules(self) -> None:
        """Import ``imports``/``include`` modules and pending ``autodiscover_tasks`` packages."""
        from .. import signals

        signals.import_modules.send(sender=self)
        for module in self.conf.effective().include:
            importlib.import_module(module)
        for packages, related_name in self._autodiscover:
            self._discover(packages, related_name)
        self._autodiscover.clear()
        self._sync_native()

    # -- tasks ------------------------------------------------------------------------------------------
    @property
    def Task(self) -> type[Task]:  # noqa: N802 - Celery's name
        """The app-bound base class (``class MyTask(app.Task)``)."""
        cls = self.__dict__.get("_task_base")
        if cls is None:
            base = self._task_cls_spec or Task
            if isinstance(base, str):
                module, _, attr = base.replace(":", ".").rpartition(".")
                base = getattr(importlib.import_module(module), attr)
            cls = type(base.__name__, (base,), {"_app": self, "__module__": base.__module__, "abstract": True,
                                                "__bound__": True})
            self.__dict__["_task_base"] = cls
        return cls

    def task(self, *args: Any, **opts: Any) -> Any:
        """``@app.task``, ``@app.task()``, ``@app.task(**options)``: create and register a task."""
        if len(args) == 1 and not opts and callable(args[0]):
            return self._task_from_fun(args[0])
        if args:
            raise TypeError(f"argument 1 to @task() must be a callable, got {args[0]!r}")

        def decorate(fun: Callable[..., Any]) -> Any:
            return self._task_from_fun(fun, **opts)

        return decorate

    def _task_from_fun(self, fun: Callable[..., Any], name: str | None = None, base: Any = None, bind: bool = False,
                       **options: Any) -> Task:  # fmt: skip
        from .registry import build_task

        for key in ("shared", "lazy", "filter", "pydantic", "pydantic_strict", "pydantic_context",
                    "pydantic_dump_kwargs"):
            options.pop(key, None)
        name = name or self.gen_task_name(fun.__name__, fun.__module__)
        existing = self._tasks.get(name)
        if existing is not None and getattr(existing, "__wrapped__", None) is not fun:
            warnings.warn(f"task name {name!r} is already registered; keeping the first", stacklevel=3)
            return existing
        if existing is not None:
            return existing
        task = build_task(self, fun, name, base or self.Task, bind, options)
        self._register(task)
        return task

    def _register(self, task: Task) -> None:
        self._tasks[task.name] = task
        if self._native is not None and task.name not in self._native.tasks:
            self._register_native(task, self._home_queue(task))

    def register_task(self, task: Any, **options: Any) -> Task:
        """Register a class-based task (an instance or a class); replaces a task of the same name."""
        if isinstance(task, type):
            task = task()
        if not task.name:
            task.name = self.gen_task_name(type(task).__name__, type(task).__module__)
        type(task).bind(self)
        task._install_autoretry()
        self._register(task)
        return task

    def gen_task_name(self, name: str, module: str) -> str:
        if module == "__main__" and self.main:
            module = self.main
        return f"{module}.{name}"

    @property
    def tasks(self) -> TaskRegistry:
        self.finalize(auto=True)
        return self._tasks

    def finalize(self, auto: bool = False) -> None:
        """Bind pending work and fire ``on_after_finalize`` once."""
        with self._lock:
            if self._finalized:
                return
            if auto and not self.autofinalize:
                raise RuntimeError("Contract breach: app not finalized")
            self._finalized = True
        self.on_after_finalize.send(sender=self)

    def autodiscover_tasks(self, packages: Any = None, related_name: str | None = "tasks", force: bool = False) -> None:
        """Import ``<package>.<related_name>`` for each package (lazily, at worker start, unless ``force``)."""
        if force:
            self._discover(packages, related_name)
        else:
            self._autodiscover.append((packages, related_name))

    def _discover(self, packages: Any, related_name: str | None) -> None:
        if callable(packages):
            packages = packages()
        if packages is None:
            packages = _django_apps()
        for package in packages or ():
            module = f"{package}.{related_name}" if related_name else package
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise

    # -- configuration shortcuts ---------------------------------------------------------------------------
    def config_from_object(self, obj: Any, silent: bool = False, force: bool = False,
                           namespace: str | None = None) -> bool:  # fmt: skip
        self._router = None
        return self.conf.config_from_object(obj, silent=silent, force=force, namespace=namespace)

    def config_from_envvar(self, variable_name: str, silent: bool = False, force: bool = False) -> bool:
        self._router = None
        return self.conf.config_from_envvar(variable_name, silent=silent, force=force)

    def add_defaults(self, fun: Any) -> None:
        self.conf.add_defaults(fun)

    def add_periodic_task(self, schedule: Any, sig: Any, args: Any = (), kwargs: Any = (), name: str | None = None,
                          **opts: Any) -> str:  # fmt: skip
        """Add a ``beat_schedule`` entry (buffered until the configuration is loaded); returns its key."""
        key = name or repr(sig)
        if not self.conf.configured:
            self._periodic.append(((schedule, sig, args, kwargs, key), opts))
            return key
        return self._add_periodic(schedule, sig, args, kwargs, key, **opts)

    def _add_periodic(self, schedule: Any, sig: Any, args: Any, kwargs: Any, key: str, **opts: Any) -> str:
        task_name = getattr(sig, "name", None) or (sig.get("task") if isinstance(sig, dict) else str(sig))
        options = dict(getattr(sig, "options", None) or (sig.get("options") if isinstance(sig, dict) else {}) or {})
        entry = {"schedule": schedule, "task": task_name, "args": tuple(args or getattr(sig, "args", ()) or ()),
                 "kwargs": dict(kwargs or getattr(sig, "kwargs", {}) or {}), "options": {**options, **opts}}
        schedule_conf = dict(self.conf.get("beat_schedule") or {})
        schedule_conf[key] = entry
        self.conf["beat_schedule"] = schedule_conf
        return key

    @property
    def timezone(self) -> Any:
        from zoneinfo import ZoneInfo

        name = self.conf.effective().timezone
        return ZoneInfo(name) if name else datetime.now().astimezone().tzinfo

    def now(self) -> datetime:
        return datetime.now(tz=self.timezone)

    def uses_utc_timezone(self) -> bool:
        return self.conf.effective().timezone in ("UTC", "Etc/UTC")

    # -- sending ------------------------------------------------------------------------------------------
    def round_trip(self, args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Serialize and deserialize arguments as a publish would (eager mode; EncodeError on failure)."""
        serializer = self.__taskora_app__.serializer
        payload = self._encode({"args": args, "kwargs": kwargs})
        data = serializer.loads(payload)
        return list(data["args"]), dict(data["kwargs"])

    def _encode(self, data: Any) -> Any:
        try:
            return self.__taskora_app__.serializer.dumps(_plain_args(data))
        except SerializationError as exc:
            raise EncodeError(str(exc)) from exc

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, countdown: float | None = None,
                  eta: Any = None, task_id: str | None = None, producer: Any = None, connection: Any = None,
                  router: Any = None, result_cls: Any = None, expires: Any = None, publisher: Any = None,
                  link: Any = None, link_error: Any = None, add_to_parent: bool = True, group_id: str | None = None,
                  group_index: int | None = None, retries: int = 0, chord: Any = None, reply_to: Any = None,
                  time_limit: Any = None, soft_time_limit: Any = None, root_id: str | None = None,
                  parent_id: str | None = None, route_name: str | None = None, shadow: str | None = None,
                  chain: Any = None, task_type: Any = None, replaced_task_nesting: int = 0,
                  **options: Any) -> Any:  # fmt: skip
        """Send a task by name (never eager); a locally registered task lends its options."""
        if self.conf.task_always_eager:
            warnings.warn(AlwaysEagerIgnored("task_always_eager has no effect on send_task"), stacklevel=2)
        options.update(countdown=countdown, eta=eta, expires=expires, time_limit=time_limit,
                       soft_time_limit=soft_time_limit, route_name=route_name, group_id=group_id,
                       group_index=group_index, root_id=root_id, parent_id=parent_id)
        task = self._tasks.get(name)
        result = self._send(name, list(args or ()), dict(kwargs or {}), options, task=task, task_id=task_id,
                            link=link, link_error=link_error, shadow=shadow)
        return result_cls(result.id, app=self) if result_cls is not None else result

    def _send(self, name: str, args: list[Any], kwargs: dict[str, Any], options: dict[str, Any], *,
              task: Task | None, task_id: str | None, link: Any = None, link_error: Any = None,
              shadow: str | None = None) -> AsyncResult:  # fmt: skip
        from . import _publish

        return _publish.publish(self, name, args, kwargs, options, task=task, task_id=task_id, link=link,
                                link_error=link_error, shadow=shadow)

    def eager_request(self, task: Task, task_id: str, args: list[Any], kwargs: dict[str, Any], retries: int,
                      headers: Any, options: dict[str, Any]) -> Context:  # fmt: skip
        ids = _execute.parent_ids(task_id)
        request = Context(
            id=task_id, task=task.name, args=args, kwargs=kwargs, retries=retries, is_eager=True,
            called_directly=False, hostname=socket.gethostname(), headers=headers, root_id=ids["root_id"],
            parent_id=ids["parent_id"], ignore_result=bool(options.get("ignore_result", False)),
            delivery_info={"is_eager": True, "exchange": options.get("exchange"),
                           "routing_key": options.get("routing_key"), "priority": options.get("priority")},
        )  # fmt: skip
        if headers:
            request.update({k: v for k, v in headers.items() if k not in request.__dict__})
        return request

    def run_callbacks(self, task: Task, request: Context, outcome: Any, links: Any, errbacks: Any,
                      eager: bool) -> None:  # fmt: skip
        if links or errbacks:
            _execute.run_callbacks(self, request, outcome, links, errbacks, eager)

    # -- results and control --------------------------------------------------------------------------------
    def AsyncResult(self, id: str, backend: Any = None, task_name: str | None = None, app: Any = None,  # noqa: N802
                    parent: Any = None) -> AsyncResult:  # fmt: skip
        return AsyncResult(id, backend=backend, task_name=task_name, app=self, parent=parent)

    def GroupResult(self, id: str | None = None, results: Any = None, parent: Any = None,  # noqa: N802
                    **kwargs: Any) -> GroupResult:  # fmt: skip
        return GroupResult(id, results, parent=parent, app=self, **kwargs)

    def ResultSet(self, results: Any, **kwargs: Any) -> ResultSet:  # noqa: N802
        return ResultSet(results, app=self, **kwargs)

    def signature(self, *args: Any, **kwargs: Any) -> Any:
        from ..canvas import signature

        kwargs["app"] = self
        return signature(*args, **kwargs)

    @property
    def control(self) -> Any:
        if self._control is None:
            from .control import Control

            self._control = Control(self)
        return self._control

    @property
    def backend(self) -> Any:
        return self

    def close(self) -> None:
        """Stop this app's in-process worker and event reader, and forget it as current/default app."""
        native, self._native = self._native, None
        if native is not None:
            native.close(timeout=5)
        _state.unregister_app(self)


def _plain_args(data: dict[str, Any]) -> dict[str, Any]:
    """Tuples travel as lists (kombu's JSON), so a task sees ``request.args`` as a list."""
    return {"args": [list(a) if isinstance(a, tuple) and not hasattr(a, "_fields") else a for a in data["args"]],
            "kwargs": data["kwargs"]}


def _django_apps() -> list[str]:
    try:
        from django.apps import apps  # type: ignore[import-not-found]
    except ImportError:
        return []
    return [config.name for config in apps.get_app_configs()]


def as_utc(when: datetime, tz: Any) -> datetime:
    """A naive ETA is read in the app's timezone (celery-surface §15.21)."""
    return when.replace(tzinfo=tz).astimezone(timezone.utc) if when.tzinfo is None else when


def seconds_until(when: Any, now: datetime, tz: Any) -> float:
    """``eta``/``expires`` given as seconds, datetime or ISO string → seconds from ``now``."""
    if isinstance(when, timedelta):
        return when.total_seconds()
    if isinstance(when, (int, float)):
        return float(when)
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return (as_utc(when, tz) - now).total_seconds()


def _raise_not_registered(name: str) -> None:
    raise NotRegistered(name)
