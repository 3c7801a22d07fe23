"""Custom remote-control commands (``celery.worker.control``): ``@control_command``/``@inspect_command``.

A decorated function ``fun(state, **arguments)`` becomes a command every taskora worker of the process
that imported it answers (the module defining it must be imported by the worker, e.g. the task module
given to ``-A``). ``app.control.broadcast(name, arguments={...}, reply=True)`` returns
``[{hostname: reply}, ...]``. ``state`` carries ``app``, ``hostname`` and ``consumer`` (None: a taskora
worker has no kombu consumer).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from taskora.worker.control import register_command
from taskora.worker.live_ops import LIVE_COMMANDS

__all__ = ["Panel", "ControlState", "control_command", "inspect_command", "add_consumer", "cancel_consumer"]

controller_info_t = namedtuple(  # noqa: PYI024 - Celery's public name
    "controller_info_t", ["alias", "type", "visible", "default_timeout", "help", "signature", "args", "variadic"])


@dataclass
class ControlState:
    """What a command receives as ``state`` (Celery passes the worker's pidbox state)."""

    app: Any
    hostname: str
    consumer: Any = None
    #: The native control handler answering (its ``task_names`` and built-in commands).
    worker: Any = None


class Panel:
    """The registry of remote-control commands: ``Panel.data[name]`` and ``Panel.meta[name]``."""

    data: dict[str, Callable[..., Any]] = {}
    meta: dict[str, controller_info_t] = {}

    @classmethod
    def register(cls, *args: Any, **kwargs: Any) -> Any:
        if args and callable(args[0]):
            return cls._register(**kwargs)(args[0])
        return cls._register(**kwargs)

    @classmethod
    def _register(cls, type: str = "action", name: str | None = None, alias: str | None = None,  # noqa: A002
                  visible: bool = True, default_timeout: float = 1.0, help: str | None = None,  # noqa: A002
                  signature: str | None = None, args: Any = None, variadic: Any = None) -> Any:  # fmt: skip
        def decorate(fun: Callable[..., Any]) -> Callable[..., Any]:
            control_name = name or fun.__name__
            info = controller_info_t(alias, type, visible, default_timeout, help or fun.__doc__, signature,
                                     args, variadic)
            for key in filter(None, (control_name, alias)):
                cls.data[key] = fun
                cls.meta[key] = info
                if key not in LIVE_COMMANDS:  # those every taskora worker answers itself (live_ops.py)
                    register_command(key, _answering(fun))
            return fun

        return decorate


def _answering(fun: Callable[..., Any]) -> Callable[..., Any]:
    """The worker-side call: build the Celery ``state`` from the answering worker, pass the arguments."""
    def answer(handler: Any, **arguments: Any) -> Any:
        return fun(ControlState(app=worker_app(handler), hostname=handler.hostname, worker=handler), **arguments)

    return answer


def worker_app(handler: Any) -> Any:
    """The Celery app whose worker answers: the one running on the handler's engine app (Celery's
    ``state.app``), not merely the current app, which a test may have replaced with another one."""
    from .._state import apps, get_current_app

    owner = next((app for app in apps() if getattr(app, "_native", None) is handler.app), None)
    return owner if owner is not None else get_current_app()


def control_command(**kwargs: Any) -> Any:
    """Register a command that acts (``@control_command(args=[('n', int)])``)."""
    return Panel.register(type="control", **kwargs)


def inspect_command(**kwargs: Any) -> Any:
    """Register a command that reports (``@inspect_command()``)."""
    return Panel.register(type="inspect", **kwargs)


def _live(state: Any, command: str, **arguments: Any) -> Any:
    """Run one of the worker's own live operations (taskora.worker.live_ops) for a caller holding ``state``."""
    return state.worker.handle(command, arguments)


@control_command(args=[("queue", str)], signature="<queue>")
def add_consumer(state: Any, queue: str, *args: Any, **kwargs: Any) -> Any:
    """Start consuming ``queue``: the worker starts serving the tasks routed to it (``{'ok': 'add consumer Q'}``)."""
    return _live(state, "add_consumer", queue=queue)


@control_command(args=[("queue", str)], signature="<queue>")
def cancel_consumer(state: Any, queue: str, **kwargs: Any) -> Any:
    """Stop consuming ``queue``: its tasks' running jobs finish, no new one starts here."""
    return _live(state, "cancel_consumer", queue=queue)


@control_command(signature="<headers>")
def revoke_by_stamped_headers(state: Any, headers: dict[str, Any], terminate: bool = False, signal: Any = None,
                              **kwargs: Any) -> dict[str, str]:  # fmt: skip
    """Remember stamp revocations in this worker's ``worker.state.revoked_stamps`` (Celery's reply words).

    The jobs already stored with those stamps are cancelled by the caller, in the store, for every worker.
    """
    from . import state as worker_state

    for header, stamps in headers.items():
        known = _as_list(worker_state.revoked_stamps.get(header) or [])
        worker_state.revoked_stamps[header] = known + [s for s in _as_list(stamps) if s not in known]
    if not terminate:
        return {"ok": f"headers {headers} flagged as revoked, but not terminated"}
    return {"ok": f"headers {headers} revoked"}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]
