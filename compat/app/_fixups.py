"""An app's fix-ups (``fixups=``, by default Celery's Django fix-up), its ``task_cls``, and its worker classes
(``app.Worker``, ``app.WorkController``)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

__all__ = ["BUILTIN_FIXUPS", "FixupsMixin", "load_fixups"]

#: The fix-ups every app installs unless given ``fixups=`` (each decides for itself whether it applies).
BUILTIN_FIXUPS = frozenset({"taskora.compat.fixups.django:fixup"})


def load_fixups(app: Any, names: Iterable[Any]) -> list[Any]:
    """Call each fix-up (a callable or a ``'module:attr'`` name; Celery's ``celery.`` names are accepted) with
    the app; the instances are kept on the app so their weakly connected receivers stay alive."""
    return [_resolve(name)(app) for name in names]


def _resolve(name: Any) -> Any:
    if callable(name):
        return name
    text = str(name)
    if text.startswith("celery."):
        text = "taskora.compat." + text[len("celery."):]
    module, _, attr = text.partition(":") if ":" in text else text.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _class_task_cls(app: Any, app_class: type[Any]) -> Any:
    """A ``task_cls`` class attribute set by a subclass of ``app_class`` (Celery's ``app_has_custom``), else None."""
    for cls in type(app).__mro__:
        if cls is not app_class and issubclass(cls, app_class) and "task_cls" in vars(cls):
            return vars(cls)["task_cls"]
    return None


class FixupsMixin:
    """``fixups``/``_fixups``, ``task_cls`` and the app-bound worker classes."""

    _task_cls_spec: Any

    def _install_fixups(self, fixups: Any, task_cls: Any, app_class: type[Any]) -> None:
        """Called once from ``Celery.__init__`` (``app_class``: ``Celery``): records whether the project chose a
        task class, then runs the fix-ups (the Django one switches ``task_cls`` to ``DjangoTask`` unless it did)."""
        custom = task_cls or _class_task_cls(self, app_class)
        self._custom_task_cls_used = bool(custom)
        self._task_cls_spec = custom
        self.fixups = set(BUILTIN_FIXUPS) if fixups is None else fixups
        self._fixups = [f for f in load_fixups(self, self.fixups) if f is not None]

    @property
    def task_cls(self) -> Any:
        """The base class (or its ``'module:Class'`` name) of the app's tasks; None: the plain ``Task``."""
        return self._task_cls_spec

    @task_cls.setter
    def task_cls(self, value: Any) -> None:
        self._task_cls_spec = value
        vars(self).pop("_task_base", None)  # app.Task is rebuilt on its next read

    @property
    def Worker(self) -> type[Any]:  # noqa: N802 - Celery's name
        """``app.Worker(**options)``: an in-process worker for this app (see ``taskora.compat.worker``)."""
        return self._bound_worker_class()

    @property
    def WorkController(self) -> type[Any]:  # noqa: N802 - Celery's name
        return self._bound_worker_class()

    def _bound_worker_class(self) -> type[Any]:
        cls = vars(self).get("_worker_class")
        if cls is None:
            from ..worker.worker import WorkController

            cls = type("Worker", (WorkController,), {"app": self, "__module__": WorkController.__module__})
            vars(self)["_worker_class"] = cls
        return cls
