"""Task registration on a Celery app: ``@app.task``, class-based tasks, finalize and autodiscovery."""

from __future__ import annotations

import importlib
import importlib.util
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._discovery import find_related_module
from .registry import TaskRegistry, check_task_name
from .task import Task

__all__ = ["DJANGO_TASK_CLS", "TaskMixin"]

#: The task class under a second name: in TaskMixin's annotations, ``Task`` is the mixin's own property.
_Task = Task

#: The base of an app's tasks under Django (the Django fix-up switches ``task_cls`` to it).
DJANGO_TASK_CLS = "taskora.compat.contrib.django.task:DjangoTask"


class TaskMixin:
    """Creates and registers the app's tasks (``app.tasks``) and imports task modules at worker start."""

    _tasks: TaskRegistry
    _lock: threading.RLock
    _finalized: bool
    _autodiscover: list[tuple[Any, str | None]]
    _task_cls_spec: Any
    main: str | None
    autofinalize: bool
    conf: Any
    on_after_finalize: Any
    _native: Any

    if TYPE_CHECKING:  # provided by _engine.EngineMixin

        def _sync_native(self) -> None: ...
        def _register_native(self, task: _Task, queue: str, engine_name: str | None = None) -> Any: ...
        def _home_queue(self, task: _Task) -> str: ...

    def loader_import_default_modules(self) -> None:
        """Import ``imports``/``include`` modules and pending ``autodiscover_tasks`` packages."""
        from .. import signals

        for _receiver, response in signals.import_modules.send(sender=self):
            if isinstance(response, Exception):  # e.g. django.setup() failed: no task module can import, as Celery
                raise response
        for module in self.conf.effective().include:
            importlib.import_module(module)
        for packages, related_name in self._autodiscover:
            self._discover(packages, related_name)
        self._autodiscover.clear()
        self._sync_native()

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

    @Task.setter
    def Task(self, cls: type[Task]) -> None:  # noqa: N802 - Celery's name
        """``app.Task = ContextTask`` (Flask's ``make_celery``): later ``@app.task`` use it as base, as in Celery."""
        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise TypeError(f"app.Task must be a Task subclass, got {cls!r}")
        self.__dict__["_task_base"] = cls

    @Task.deleter
    def Task(self) -> None:  # noqa: N802 - Celery's name
        """Forget an assigned base: the next read builds the app's default ``Task`` again."""
        self.__dict__.pop("_task_base", None)

    def task(self, *args: Any, **opts: Any) -> Any:
        """``@app.task``, ``@app.task()``, ``@app.task(**options)``, and ``app.task(fun, **options)``
        (the function passed positionally with options, as Celery allows): create and register a task."""
        if len(args) == 1:
            if not callable(args[0]):
                raise TypeError(f"argument 1 to @task() must be a callable, got {args[0]!r}")
            return self._task_from_fun(args[0], **opts)
        if args:
            raise TypeError(f"@task() takes exactly 1 argument ({len(args) + len(opts)} given)")

        def decorate(fun: Callable[..., Any]) -> Any:
            return self._task_from_fun(fun, **opts)

        return decorate

    def _task_from_fun(self, fun: Callable[..., Any], name: str | None = None, base: Any = None, bind: bool = False,
                       **options: Any) -> _Task:  # fmt: skip
        from ._pydantic import pydantic_run
        from .registry import build_task

        for key in ("shared", "lazy", "filter"):
            options.pop(key, None)
        name = check_task_name(name or self.gen_task_name(fun.__name__, fun.__module__))
        existing = self._tasks.get(name)
        if existing is not None and getattr(existing, "__wrapped__", None) is not fun:
            warnings.warn(f"task name {name!r} is already registered; keeping the first", stacklevel=3)
            return existing
        if existing is not None:
            return existing
        run = pydantic_run(self, fun, name, options)  # fun itself unless pydantic=True (_pydantic.py)
        task = build_task(self, run, name, base or self.Task, bind, options)
        if run is not fun:
            task.__wrapped__, task._decorated_fun_run, task._pydantic_bind = fun, run, bind
        self._register(task)
        return task

    def _register(self, task: _Task) -> None:
        self._tasks[task.name] = task
        if self._native is not None and task.name not in self._native.tasks:
            self._register_native(task, self._home_queue(task))

    def register_task(self, task: Any, **options: Any) -> _Task:
        """Register a class-based task (an instance or a class); replaces a task of the same name."""
        if isinstance(task, type):
            task = task()
        if not task.name:
            task.name = self.gen_task_name(type(task).__name__, type(task).__module__)
        check_task_name(task.name)
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
            find_related_module(package, related_name)


def _django_apps() -> list[str]:
    """The installed Django apps, setting Django up first when the project has not (a worker process
    imports ``proj.celery`` before anything calls ``django.setup()``, as Celery's Django fixup does)."""
    try:
        import django
        from django.apps import apps
    except ImportError:
        return []
    if not apps.ready:
        django.setup()
    return [config.name for config in apps.get_app_configs()]

