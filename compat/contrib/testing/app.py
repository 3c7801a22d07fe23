"""``TestApp`` and ``setup_default_app``: a Celery app for one test, and the global state put back after it.

Celery's test configuration (``memory://`` broker, ``cache+memory://`` backend) maps to taskora's
in-memory engine: the broker URL picks the engine, and a ``memory://`` one runs the real scripts in
this process. A ``redis://`` ``broker_url`` in the test's config is used as given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from copy import deepcopy
from typing import Any

from ... import _state
from ...app.base import Celery

__all__ = ["DEFAULT_TEST_CONFIG", "TestApp", "Trap", "set_trap", "setup_default_app"]

#: What Celery's test apps start from; ``config`` given to :func:`TestApp` overrides it key by key.
DEFAULT_TEST_CONFIG: dict[str, Any] = {
    "worker_hijack_root_logger": False,
    "worker_log_color": False,
    "accept_content": {"json"},
    "enable_utc": True,
    "timezone": "UTC",
    "broker_url": "memory://",
    "result_backend": "cache+memory://",
    "broker_heartbeat": 0,
}


class Trap:
    """Stands in for the current/default app and fails loudly, to find code that does not pass its app."""

    def __getattr__(self, name: str) -> Any:
        if name in ("_is_coroutine", "__func__"):  # what unittest.mock probes when patching
            return None
        raise RuntimeError(f"Test depends on current_app (it asked the trap app for {name!r})")


def TestApp(name: str | None = None, config: Mapping[str, Any] | None = None, enable_logging: bool = False,  # noqa: N802
            set_as_current: bool = False, log: Any = None, backend: Any = None, broker: Any = None,
            **kwargs: Any) -> Celery:  # fmt: skip
    """A Celery app configured for tests: :data:`DEFAULT_TEST_CONFIG` under ``config``.

    An explicit ``broker``/``backend`` argument wins over the defaults' URLs, as in Celery. ``log`` and
    ``enable_logging`` are accepted for signature compatibility: taskora's test app never hijacks logging.
    """
    from . import tasks  # noqa: F401 - registers celery.ping on every app

    merged = dict(deepcopy(DEFAULT_TEST_CONFIG), **(config or {}))
    if broker is not None:
        merged.pop("broker_url", None)
    if backend is not None:
        merged.pop("result_backend", None)
    app = Celery(name or "celery.tests", set_as_current=set_as_current, broker=broker, backend=backend, **kwargs)
    app.add_defaults(merged)
    return app


@contextmanager
def set_trap(app: Any) -> Iterator[None]:
    """Make the current and default app a :class:`Trap` for the duration of the block."""
    saved = _snapshot()
    trap = Trap()
    _state.set_default_app(trap)
    _state.set_current_app(trap)
    try:
        yield
    finally:
        _restore(saved)


@contextmanager
def setup_default_app(app: Any, use_trap: bool = False) -> Iterator[None]:
    """Run the block, then put the current/default app back as they were and close ``app``.

    Why: a test that makes its app current (as workers do) must not leak it into the next test.
    """
    saved = _snapshot()
    try:
        if use_trap:
            with set_trap(app):
                yield
        else:
            yield
    finally:
        _restore(saved)
        if app is not saved["current"]:
            app.close()


def _snapshot() -> dict[str, Any]:
    with _state._lock:
        return {"default": dict(_state._default), "current": _state._current_app.get(),
                "finalizers": list(_state._on_finalize)}


def _restore(saved: dict[str, Any]) -> None:
    with _state._lock:
        _state._default.update(saved["default"])
        _state._on_finalize[:] = saved["finalizers"]
    _state._current_app.set(saved["current"])
