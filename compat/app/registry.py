"""The task registry (``app.tasks``) and the class a ``@app.task`` decorator builds."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..exceptions import ImproperlyConfigured, NotRegistered

__all__ = ["TaskRegistry", "build_task", "check_task_name"]

#: Characters a task name cannot hold: the engine wraps the name in ``{…}`` as the Redis Cluster hash tag
#: of all the task's keys, so a brace inside it would put the keys in another slot (or split the tag).
_FORBIDDEN_IN_NAMES = "{}"


def check_task_name(name: Any) -> str:
    """Refuse a task name the engine cannot key, at decoration, so the mistake names its task and the
    app's other tasks keep working (the engine would otherwise refuse it at the first publish of any task).

    Raises:
        ImproperlyConfigured: the name is not a non-empty string, or holds ``{`` or ``}``.
    """
    if not isinstance(name, str) or not name:
        raise ImproperlyConfigured(f"task name must be a non-empty string, got {name!r}")
    bad = sorted({c for c in name if c in _FORBIDDEN_IN_NAMES})
    if bad:
        raise ImproperlyConfigured(
            f"task name {name!r} contains {' and '.join(repr(c) for c in bad)}: braces are the Redis hash tag "
            "of the task's keys in taskora; give the task another name (name=...)"
        )
    return name


class TaskRegistry(dict):
    """Name → task object; an unknown name raises ``NotRegistered`` (a ``KeyError``)."""

    NotRegistered = NotRegistered

    def __missing__(self, key: str) -> Any:
        raise NotRegistered(key)

    def register(self, task: Any) -> None:
        task = task() if isinstance(task, type) else task
        self[check_task_name(task.name)] = task

    def unregister(self, name: Any) -> None:
        try:
            self.pop(getattr(name, "name", name))
        except KeyError:
            raise NotRegistered(name) from None

    def filter_types(self, type: str) -> dict[str, Any]:
        return {name: task for name, task in self.items() if getattr(task, "type", "regular") == type}

    def regular(self) -> dict[str, Any]:
        return self.filter_types("regular")

    def periodic(self) -> dict[str, Any]:
        return self.filter_types("periodic")


def build_task(app: Any, fun: Callable[..., Any], name: str, base: type, bind: bool, options: dict[str, Any]) -> Any:
    """Subclass ``base`` with ``run`` = ``fun`` (bound when ``bind``), every option as a class attribute
    (unknown ones included, as Celery does), and return the single instance."""
    run = fun if bind else staticmethod(fun)
    attrs: dict[str, Any] = {
        "app": app, "name": name, "run": run, "_decorated": True, "__doc__": fun.__doc__,
        "__module__": fun.__module__, "__wrapped__": run, "__qualname__": fun.__qualname__,
        "__header__": None, "typing": options.pop("typing", None), "abstract": False, "_decorated_bound": bind,
    }  # fmt: skip
    attrs.update(options)
    attrs.pop("app")
    cls: Any = type(fun.__name__, (base,), attrs)  # a subclass of base, the Task class given
    cls.bind(app)
    task = cls()
    task.__wrapped__ = fun
    task._install_autoretry()
    functools.update_wrapper(task, fun, assigned=("__doc__", "__module__"), updated=())
    return task
