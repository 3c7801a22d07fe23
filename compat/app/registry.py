"""The task registry (``app.tasks``) and the class a ``@app.task`` decorator builds."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..exceptions import NotRegistered

__all__ = ["TaskRegistry", "build_task"]


class TaskRegistry(dict):  # type: ignore[type-arg]
    """Name → task object; an unknown name raises ``NotRegistered`` (a ``KeyError``)."""

    NotRegistered = NotRegistered

    def __missing__(self, key: str) -> Any:
        raise NotRegistered(key)

    def register(self, task: Any) -> None:
        task = task() if isinstance(task, type) else task
        self[task.name] = task

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
        "__header__": None, "typing": options.pop("typing", None), "abstract": False,
    }  # fmt: skip
    attrs.update(options)
    attrs.pop("app")
    cls = type(fun.__name__, (base,), attrs)
    cls.bind(app)
    task = cls()
    task.__wrapped__ = fun
    task._install_autoretry()
    functools.update_wrapper(task, fun, assigned=("__doc__", "__module__"), updated=())
    return task
