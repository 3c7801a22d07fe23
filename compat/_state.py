"""Which Celery app and which task are "current": the only mutable module state of the compat layer.

Celery keeps the current app per thread and falls back to a global default app; a ``shared_task``
called from a thread other than the one that created the app therefore resolves to an unconfigured
``'default'`` app (celery-surface §15.31, a classic "Connection refused" bug). taskora keeps the
per-context current app (``contextvars``, so asyncio tasks and threads each see their own) but its
fallback is the process-wide default: the app given to ``set_default()``, else the last app made
current anywhere in the process. Only when no app exists at all is a fallback app created (named
``'default'``, in-memory engine), so a shared task works from any thread of a configured process.

The current task is a per-context stack: a task calling another task directly pushes on top.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "get_current_app",
    "set_current_app",
    "set_default_app",
    "default_app",
    "get_current_task",
    "get_current_worker_task",
    "push_task",
    "connect_on_app_finalize",
    "apps",
]

_current_app: contextvars.ContextVar[Any] = contextvars.ContextVar("taskora_compat_current_app", default=None)
_task_stack: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar("taskora_compat_tasks", default=())
_lock = threading.RLock()
_default: dict[str, Any] = {"explicit": None, "last": None, "fallback": None}
#: Every app created in this process, oldest first, until it is closed (``app.close()``). Celery holds its apps
#: weakly; here an app that is dropped without being closed stays known, so shared tasks imported later still
#: register on it.
_apps: list[Any] = []
#: Callbacks ``fn(app)`` run for each app when it finalizes (shared tasks register through these).
_on_finalize: list[Callable[[Any], Any]] = []
#: The class of the fallback app (``Celery``), set by app/base.py where it is defined: this module is imported by
#: nearly every compat module, so importing the app class here would close an import cycle.
_app_class: list[Any] = []


def set_app_class(cls: Any) -> None:
    """Name the class ``default_app()`` makes its fallback app from (app/base.py: ``Celery``)."""
    _app_class[:] = [cls]


def set_current_app(app: Any) -> None:
    """Make ``app`` current in this context, and the process fallback unless a default was set."""
    _current_app.set(app)
    with _lock:
        _default["last"] = app


def set_default_app(app: Any) -> None:
    """Make ``app`` the process-wide default (``app.set_default()``; what a worker does at start)."""
    with _lock:
        _default["explicit"] = app


def default_app() -> Any:
    """The process default: explicit default, else the last current app, else a lazily made fallback."""
    with _lock:
        app = _default["explicit"] or _default["last"]
        if app is not None:
            return app
        if _default["fallback"] is None:
            _default["fallback"] = _app_class[0]("default", set_as_current=False)
        return _default["fallback"]


def get_current_app() -> Any:
    """The app current in this context, else the process default."""
    app = _current_app.get()
    return app if app is not None else default_app()


def register_app(app: Any) -> None:
    with _lock:
        _apps.append(app)


def unregister_app(app: Any) -> None:
    """Forget a closed app so it stops being anyone's current or default app."""
    with _lock:
        if app in _apps:
            _apps.remove(app)
    release_app(app)


def release_app(app: Any) -> None:
    """Stop ``app`` being the current or default app (a worker built for it made it both); it stays known."""
    with _lock:
        for key in ("explicit", "last", "fallback"):
            if _default[key] is app:
                _default[key] = None
        others = [known for known in _apps if known is not app]
        if _default["last"] is None and others:
            _default["last"] = others[-1]
    if _current_app.get() is app:
        _current_app.set(None)


class _ThreadLocalView:
    """``_state._tls.current_app``: Celery's per-thread current app, here the per-context one (``contextvars``),
    so code that saves and restores Celery's attribute restores ours."""

    @property
    def current_app(self) -> Any:
        return _current_app.get()

    @current_app.setter
    def current_app(self, app: Any) -> None:
        _current_app.set(app)


_tls = _ThreadLocalView()


def apps() -> list[Any]:
    """The live apps of this process, oldest first."""
    with _lock:
        return list(_apps)


def connect_on_app_finalize(callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Run ``callback(app)`` for every app that exists now (finalized or not) and every future app."""
    with _lock:
        _on_finalize.append(callback)
        existing = list(_apps)
    for app in existing:
        callback(app)
    return callback


def finalize_callbacks() -> list[Callable[[Any], Any]]:
    with _lock:
        return list(_on_finalize)


# -- the current task ---------------------------------------------------------------------------
class Stacked:
    """``with Stacked(var, item):`` puts ``item`` on top of the tuple stack held in ``var`` for the block.

    A class rather than a generator context manager: a worker enters two of them for every job it runs,
    and this costs a third of what a generator does."""

    __slots__ = ("_var", "_item", "_token")

    def __init__(self, var: contextvars.ContextVar[tuple[Any, ...]], item: Any) -> None:
        self._var, self._item = var, item

    def __enter__(self) -> Any:
        self._token = self._var.set((*self._var.get(), self._item))
        return self._item

    def __exit__(self, *exc_info: object) -> None:
        self._var.reset(self._token)


def push_task(task: Any) -> Stacked:
    """Make ``task`` the current task for the duration of the ``with`` block (nested calls stack)."""
    return Stacked(_task_stack, task)


def get_current_task() -> Any:
    """The task executing in this context (direct, eager or worker), or None."""
    stack = _task_stack.get()
    return stack[-1] if stack else None


def get_current_worker_task() -> Any:
    """The innermost task run by a worker (not eager, not called directly), or None."""
    for task in reversed(_task_stack.get()):
        request = task.request
        if not request.is_eager and not request.called_directly:
            return task
    return None


class Proxy:
    """A stand-in that forwards everything to ``resolve()`` at each use (``current_app``/``current_task``)."""

    __slots__ = ("_resolve", "__weakref__")

    def __init__(self, resolve: Callable[[], Any]) -> None:
        object.__setattr__(self, "_resolve", resolve)

    def _get_current_object(self) -> Any:
        return self._resolve()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resolve(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._resolve(), name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)

    def __bool__(self) -> bool:
        return bool(self._resolve())

    def __eq__(self, other: object) -> bool:
        return self._resolve() == other

    def __hash__(self) -> int:
        return hash(self._resolve())

    def __repr__(self) -> str:
        return repr(self._resolve())


#: ``celery.current_app`` and ``celery.current_task``: proxies resolved at each use.
current_app = Proxy(get_current_app)
current_task = Proxy(get_current_task)
