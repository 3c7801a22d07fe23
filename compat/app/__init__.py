"""``celery.app``: ``shared_task``, ``app_or_default``, ``default_app`` and the app classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import _state
from . import trace  # noqa: F401 - ``celery.app.trace`` is reachable as an attribute, as in Celery
from .registry import check_task_name

__all__ = ["shared_task", "app_or_default", "default_app", "current_app", "current_task"]


class _SharedTask:
    """What ``@shared_task`` returns: resolves the task on the app current *when used* (any thread)."""

    def __init__(self, fun: Callable[..., Any], options: dict[str, Any]) -> None:
        self._fun = fun
        self._options = options
        self.__wrapped__ = fun
        self.__doc__ = fun.__doc__
        self.__name__ = getattr(fun, "__name__", "task")
        self.__module__ = getattr(fun, "__module__", __name__)

    def _on_app(self, app: Any) -> Any:
        return app._task_from_fun(self._fun, **dict(self._options))

    def _resolve(self) -> Any:
        return self._on_app(_state.get_current_app())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(self._resolve(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<@shared_task {self.__module__}.{self.__name__}>"


def shared_task(*args: Any, **options: Any) -> Any:
    """``@shared_task`` / ``@shared_task(**options)`` / ``shared_task(fun, **options)``: a task registered on
    every app, current and future."""

    def create(fun: Callable[..., Any]) -> _SharedTask:
        if isinstance(fun, _SharedTask):
            raise TypeError("@shared_task applied twice")
        if options.get("name") is not None:  # refused here, not in every app that registers it
            check_task_name(options["name"])
        proxy = _SharedTask(fun, options)
        _state.connect_on_app_finalize(proxy._on_app)
        return proxy

    if len(args) == 1:  # @shared_task, or shared_task(fun, name=...) with options
        if not callable(args[0]):
            raise TypeError(f"argument 1 to @shared_task() must be a callable, got {args[0]!r}")
        return create(args[0])
    if args:
        raise TypeError(f"@shared_task() takes exactly 1 argument ({len(args) + len(options)} given)")
    return create


def app_or_default(app: Any = None) -> Any:
    return app if app is not None else _state.get_current_app()


def default_app() -> Any:
    return _state.default_app()


def __getattr__(name: str) -> Any:
    if name == "current_app":
        return _state.get_current_app()
    if name == "current_task":
        return _state.get_current_task()
    raise AttributeError(name)
