"""Task contracts: a task's name, schemas and defaults declared apart from its handler (seeds:
guide/contracts), so a producer service dispatches and awaits typed results without importing the handler.

``define_task`` / ``static_contract`` build a ``TaskContract`` (a plain value, no app); an app binds it with
``app.register(contract)`` (producer: a task without handler) or ``app.implement(contract, handler)``
(worker). Both return the app's ``Task``, which dispatches and composes into workflows like any task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .errors import ConfigurationError
from .schemas import as_schema

if TYPE_CHECKING:
    from .app import Taskora
    from .task import Task

In = TypeVar("In")
Out = TypeVar("Out")

#: Contract fields that are task options (the rest, name/input/output, are the contract itself).
CONTRACT_DEFAULTS = ("retry", "timeout", "stall", "version")


@dataclass(frozen=True)
class TaskContract(Generic[In, Out]):
    """A pure declaration: ``name``, optional ``input``/``output`` schemas and option defaults."""

    name: str
    input: Any = None
    output: Any = None
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        """The task options this contract implies (schemas included)."""
        found = {k: v for k, v in self.defaults.items() if v is not None}
        if self.input is not None:
            found["input"] = self.input
        if self.output is not None:
            found["output"] = self.output
        return found


def define_task(name: str, *, input: Any = None, output: Any = None, retry: Any = None,  # noqa: A002
                timeout: Any = None, stall: Any = None,
                version: int | None = None) -> TaskContract[Any, Any]:  # fmt: skip
    """A contract with runtime schemas (pydantic models/TypeAdapters, dataclasses, schema protocol objects).

    A schema that is not a schema raises ConfigurationError naming the task, here.
    """
    _check_name(name)
    as_schema(input, f"task {name!r}: input")
    as_schema(output, f"task {name!r}: output")
    defaults = {"retry": retry, "timeout": timeout, "stall": stall, "version": version}
    return TaskContract(name=name, input=input, output=output, defaults=defaults)


def static_contract(name: str, *, retry: Any = None, timeout: Any = None, stall: Any = None,
                    version: int | None = None) -> TaskContract[Any, Any]:  # fmt: skip
    """A contract without schemas (types live only in annotations); the worker side may still validate."""
    _check_name(name)
    return TaskContract(name=name, defaults={"retry": retry, "timeout": timeout, "stall": stall, "version": version})


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "{}"):
        raise ConfigurationError(f"define_task: name must be a non-empty string without braces, got {name!r}")


def _check_contract(value: Any, where: str) -> TaskContract[Any, Any]:
    if not isinstance(value, TaskContract):
        raise ConfigurationError(f"{where}: expected a contract from define_task()/static_contract(), "
                                 f"got {value!r}")
    return value


def register(app: Taskora, contract: TaskContract[In, Out]) -> Task[In, Out]:
    """The app's task for ``contract``: the existing one (idempotent by name), else a new one without handler."""
    contract = _check_contract(contract, "register")
    existing = app.tasks.get(contract.name)
    if existing is not None:
        return existing
    return app.register_task(contract.name, None, **contract.options())


def implement(app: Taskora, contract: TaskContract[In, Out], handler: Callable[..., Any] | None = None,
              **options: Any) -> Any:  # fmt: skip
    """Attach ``handler`` (and worker-side options over the contract's defaults) to ``contract``.

    Without ``handler``, returns a decorator. A task registered before (``register``) is upgraded in place so
    the Task already handed out starts running; implementing the same contract twice is an error.
    """
    contract = _check_contract(contract, "implement")
    if handler is None:
        return lambda fn: implement(app, contract, fn, **options)
    if not callable(handler):
        raise ConfigurationError(f"implement({contract.name!r}): handler must be callable, got {handler!r}")
    for side in ("input", "output"):
        if side in options and getattr(contract, side) is not None:
            raise ConfigurationError(f"implement({contract.name!r}): the contract already has an {side} schema; "
                                     f"a worker-side {side}= is only for a static_contract()")
    merged = {**contract.options(), **options}
    existing = app.tasks.get(contract.name)
    if existing is None:
        return app.register_task(contract.name, handler, **merged)
    if existing.handler is not None:
        raise ConfigurationError(f"task {contract.name!r} is already implemented in this app")
    return _upgrade(app, existing, handler, merged)


def _upgrade(app: Taskora, task: Task[Any, Any], handler: Callable[..., Any], options: Mapping[str, Any]) -> Any:
    """Give a registered (handler-less) task its handler and worker options, keeping the same Task object."""
    from .options import build_task_options
    from .task import Task as TaskClass

    fresh: Task[Any, Any] = TaskClass(app, task.name, handler, build_task_options(options, app.defaults))
    task.handler, task.accepts_context, task.is_async = fresh.handler, fresh.accepts_context, fresh.is_async
    task.io, task.options = fresh.io, fresh.options
    return task
