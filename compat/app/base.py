"""The ``Celery`` application: Celery's app API over one native :class:`taskora.Taskora`.

The app is split by concept: ``_engine.py`` (the native app and engine tasks), ``_tasks.py`` (task
creation and registration), ``_worker_hooks.py`` (what ``taskora worker -A`` calls); this module
keeps construction, configuration shortcuts, sending, results and control.

* **Per-call queues.** The engine keeps jobs per task, and a worker's ``-Q`` selects tasks by queue.
  A call routed to a queue other than its task's own (``apply_async(queue='x')`` or a router
  function deciding per call) is dispatched to the engine task ``"x::<name>"``: the same handler
  registered under queue ``x``, created on demand on the producer and, on workers, for every queue
  given to :meth:`select_queues` (the CLI passes its ``-Q`` list) and every declared ``task_queues``.
* **Priorities.** Celery on Redis treats 0 as the highest priority and no priority as 0; priorities
  fall into ``broker_transport_options['priority_steps']`` (default 0, 3, 6, 9). Native priority is
  ``-step`` (higher runs first; 0 waits in the engine's FIFO list, a negative one after it), so the
  order is Celery's.
* ``acks_late``/``reject_on_worker_lost``: a taskora job is held under a heart-beaten lock and a dead
  worker's job is recovered by the stall sweep, so delivery is at-least-once either way; both
  settings are accepted and kept in the task's ``extra`` options for the worker to consult.
"""

from __future__ import annotations

import socket
import threading
import warnings
from datetime import datetime
from typing import Any

from taskora import Taskora

from .. import _state
from ..backends.app_mixin import BackendMixin
from ..events.app_mixin import EventsMixin
from ..exceptions import AlwaysEagerIgnored
from ..result import AsyncResult, GroupResult, ResultSet
from ..signals import Signal
from . import _execute, _main, _publish
from ._connection import ConnectionsMixin
from ._engine import BUILTIN_TASKS, EngineMixin
from ._fixups import FixupsMixin
from ._publish import encode_errors
from ._publish_plan import forget_plans
from ._tasks import TaskMixin
from ._worker_hooks import WorkerHooksMixin
from .amqp import AppObjectsMixin
from .config import Settings
from .registry import TaskRegistry, check_task_name
from .routing import Router
from .task import Context, Task

__all__ = ["Celery", "BUILTIN_TASKS"]


class Celery(TaskMixin, EngineMixin, WorkerHooksMixin, BackendMixin, AppObjectsMixin, ConnectionsMixin,
             EventsMixin, FixupsMixin):
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
        auto = {k: v for k, v in (("broker_url", broker), ("result_backend", backend), ("include", include))
                if v is not None}
        auto.update((k, v) for k, v in kwargs.items() if v is not None)
        self.conf = Settings(changes, auto=auto, namespace=namespace, on_configure=self._on_configured)
        if config_source is not None:
            self.conf.config_from_object(config_source, silent=config_source_silent)
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
        self._install_fixups(fixups, task_cls, Celery)
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

        from ._effective import effective_timezone

        name = effective_timezone(self.conf)
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
        data = getattr(serializer, "inner", serializer).loads(payload)  # our own bytes: no accept_content check
        return list(data["args"]), dict(data["kwargs"])

    def _encode(self, data: Any) -> Any:
        with encode_errors():
            return self.__taskora_app__.serializer.dumps(_plain_args(data))

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
        check_task_name(name)  # the engine could not key it: refused here, naming it, before anything is sent
        if self.conf.task_always_eager:
            warnings.warn(AlwaysEagerIgnored("task_always_eager has no effect on send_task"), stacklevel=2)
        options.update(countdown=countdown, eta=eta, expires=expires, time_limit=time_limit,
                       soft_time_limit=soft_time_limit, route_name=route_name, group_id=group_id,
                       group_index=group_index, root_id=root_id, parent_id=parent_id)
        task = self._tasks.get(name)
        result = self._send(name, list(args or ()), dict(kwargs or {}), options, task=task, task_id=task_id,
                            link=link, link_error=link_error, shadow=shadow, producer=producer)
        return result_cls(result.id, app=self) if result_cls is not None else result

    def _send(self, name: str, args: list[Any], kwargs: dict[str, Any], options: dict[str, Any], *,
              task: Task | None, task_id: str | None, link: Any = None, link_error: Any = None,
              shadow: str | None = None, producer: Any = None) -> AsyncResult:  # fmt: skip
        return _publish.publish(self, name, args, kwargs, options, task=task, task_id=task_id, link=link,
                                link_error=link_error, shadow=shadow, producer=producer)

    def producer_or_acquire(self, producer: Any = None) -> Any:
        """Celery's producer context; ``producer.batch()`` sends a run of publishes in one round trip."""
        from ._producer import producer_or_acquire

        return producer_or_acquire(self, producer)

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

    def bugreport(self) -> str:
        """Versions, platform and settings for a bug report (passwords of broker and backend URLs masked)."""
        from ._bugreport import bugreport

        return bugreport(self)

    def start(self, argv: list[str] | None = None) -> None:
        """Run the command line for this app (``sys.argv`` when no argv): compat/app/_main.py."""
        _main.start(self, argv)

    def worker_main(self, argv: list[str] | None = None) -> None:
        """Run ``worker`` for this app with ``argv`` (it must name the subcommand): compat/app/_main.py."""
        _main.worker_main(self, argv)

    def close(self) -> None:
        """Stop this app's in-process worker and event reader, and forget it as current/default app."""
        native, self._native = self._native, None
        if native is not None:
            native.close(timeout=5)
        forget_plans(self._tasks.values())
        for fixup in self._fixups:
            close_fixup = getattr(fixup, "close", None)  # a project's own fix-up need not have one
            if callable(close_fixup):
                close_fixup()
        _state.unregister_app(self)


_state.set_app_class(Celery)


def _plain_args(data: dict[str, Any]) -> dict[str, Any]:
    """Tuples travel as lists (kombu's JSON), so a task sees ``request.args`` as a list."""
    return {"args": [list(a) if isinstance(a, tuple) and not hasattr(a, "_fields") else a for a in data["args"]],
            "kwargs": data["kwargs"]}
