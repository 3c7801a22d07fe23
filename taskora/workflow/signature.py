"""Signatures: pure values describing task invocations and how they compose.

Nothing here touches Redis. A composition is flattened to a DAG by ``graph.py`` and written by
``dispatch.py`` only when ``.dispatch()`` is called, so signatures can be built, nested, reused and
inspected freely.

Node modes (how a node's job data is made when its upstream nodes complete):

* ``bound``   - the signature's own data; upstream results are ignored (``task.s(data)``).
* ``pipe``    - the upstream result is the data (``task.s()``): one upstream node gives its value,
  a fan-in (after a group) gives the list of values in order.
* ``prepend`` - the data is a mapping with an ``args`` list and the upstream value is put first in
  it (Celery's partial application; used by ``taskora.compat.canvas``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, reject_unknown
from .step_options import STEP_CLAIM_OPTIONS, refuse_flow_options, step_dedup

if TYPE_CHECKING:
    from ..task import Task
    from .handle import WorkflowHandle
    from .runtime import WorkflowRuntime

#: Node modes understood by the engine (see the module docstring).
MODES = frozenset({"bound", "pipe", "prepend"})
#: Per-node options a signature may carry.
NODE_OPTIONS = frozenset({"delay", "priority", "ttl", "meta", "job_id", "deduplicate"}) | STEP_CLAIM_OPTIONS
_UNSET: Any = object()


class Composable:
    """What every signature kind shares: ``|`` / ``pipe`` to chain, ``dispatch`` to run."""

    def __or__(self, other: Composable) -> Chain:
        if not isinstance(other, Composable):
            return NotImplemented
        return Chain(self, other)

    def pipe(self, other: Composable) -> Chain:
        """Fluent form of ``self | other``: ``other`` runs after ``self`` (and gets its output if unbound)."""
        return self | other

    def dispatch(self, *, ttl: Any = None, name: str | None = None) -> WorkflowHandle:
        """Flatten this composition, store it in Redis, enqueue its roots; returns a WorkflowHandle.

        Args:
            ttl: the whole workflow is cancelled if not finished within it (seconds, "5m", timedelta).
            name: a label shown by the inspector.
        """
        runtime: WorkflowRuntime = self.app().workflows  # the app's engine entry points (runtime.py)
        return runtime.dispatch(self, ttl=ttl, name=name)

    def app(self) -> Any:
        """The app of the first task in this composition (where the workflow is stored)."""
        raise NotImplementedError  # every concrete kind below defines it


class Signature(Composable):
    """One task invocation: ``task.s(data)`` (bound) or ``task.s()`` (receives upstream output)."""

    def __init__(self, task: Task[Any, Any], data: Any = _UNSET, *, mode: str | None = None, **options: Any) -> None:
        refuse_flow_options(f"{task.name}.s()", options)  # with the reason (step_options.py)
        reject_unknown(f"{task.name}.s()", options, NODE_OPTIONS)
        step_dedup(f"{task.name}.s()", options)  # checked here, at the call site; applied as the step is reached
        bound = data is not _UNSET
        mode = mode or ("bound" if bound else "pipe")
        if mode not in MODES:
            raise ConfigurationError(f"signature mode must be one of {sorted(MODES)}, got {mode!r}")
        if mode == "prepend" and not (isinstance(data, Mapping) and isinstance(data.get("args", []), list | tuple)):
            raise ConfigurationError(f"{task.name}: a 'prepend' signature needs data like {{'args': [...]}}")
        self.task = task
        self.data = data if bound else None
        self.mode = mode
        self.options = options

    @property
    def bound(self) -> bool:
        return self.mode != "pipe"

    def app(self) -> Any:
        return self.task.app

    def __repr__(self) -> str:
        return f"{self.task.name}.s({'' if self.mode == 'pipe' else repr(self.data)})"


class Chain(Composable):
    """Steps run one after another; each unbound step receives the previous step's output."""

    def __init__(self, *steps: Composable | Iterable[Composable]) -> None:
        flat: list[Composable] = []
        for step in _items(steps):
            flat.extend(step.steps if isinstance(step, Chain) else [step])
        if not flat:
            raise ConfigurationError("chain() needs at least one step")
        self.steps: tuple[Composable, ...] = tuple(flat)

    def __or__(self, other: Composable) -> Chain:
        if not isinstance(other, Composable):
            return NotImplemented
        return Chain(*self.steps, other)

    def app(self) -> Any:
        return self.steps[0].app()

    def __repr__(self) -> str:
        return " | ".join(repr(s) for s in self.steps)


class Group(Composable):
    """Members run in parallel; the result is the list of their results, in member order."""

    def __init__(self, *members: Composable | Iterable[Composable]) -> None:
        self.members = tuple(_items(members))

    def app(self) -> Any:
        if not self.members:
            raise ConfigurationError("an empty group has no task to dispatch through")
        return self.members[0].app()

    def __repr__(self) -> str:
        return f"group({', '.join(repr(m) for m in self.members)})"


class Chord(Composable):
    """A group (the header) whose list of results is the input of ``body``."""

    def __init__(self, header: Group | Iterable[Composable], body: Composable) -> None:
        self.header = header if isinstance(header, Group) else Group(*header)
        if not isinstance(body, Composable):
            raise ConfigurationError(f"chord body must be a signature or composition, got {body!r}")
        self.body = body

    def app(self) -> Any:
        return self.header.app() if self.header.members else self.body.app()

    def __repr__(self) -> str:
        return f"chord({self.header!r}, {self.body!r})"


class Chunks(Composable):
    """``items`` split in batches of ``size``; a batch runs in parallel once the previous one is done.

    The result is one flat list of every item's result, in item order.
    """

    def __init__(self, task: Task[Any, Any], items: Iterable[Any], size: int) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigurationError(f"{task.name}.chunk: size must be a positive integer, got {size!r}")
        self.task = task
        self.items = list(items)
        self.size = size

    def batches(self) -> list[list[Any]]:
        return [self.items[i : i + self.size] for i in range(0, len(self.items), self.size)]

    def app(self) -> Any:
        return self.task.app

    def __repr__(self) -> str:
        return f"{self.task.name}.chunk({len(self.items)} items, size={self.size})"


def _items(values: tuple[Any, ...]) -> list[Composable]:
    """``f(a, b)`` and ``f([a, b])`` (or a generator) mean the same."""
    if len(values) == 1 and not isinstance(values[0], Composable):
        values = tuple(values[0])
    for value in values:
        if not isinstance(value, Composable):
            raise ConfigurationError(f"expected a signature (task.s(...)) or a composition, got {value!r}")
    return list(values)


def chain(*steps: Composable | Iterable[Composable]) -> Chain:
    """``chain(a.s(x), b.s(), c.s())``: run in sequence, piping outputs."""
    return Chain(*steps)


def group(*members: Composable | Iterable[Composable]) -> Group:
    """``group(a.s(x), a.s(y))``: run in parallel; result is the list of results in order."""
    return Group(*members)


def chord(header: Group | Iterable[Composable], body: Composable) -> Chord:
    """``chord([a.s(x), a.s(y)], merge.s())``: ``merge`` gets the header's list of results."""
    return Chord(header, body)
