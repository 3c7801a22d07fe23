"""Flatten a composition into the DAG stored in ``taskora:wf:{<id>}``.

Each task invocation becomes a node with pre-generated job id and the indices of the nodes it
waits for (``deps``). ``terminal`` nodes define the workflow's result. The Lua side never parses
JSON: besides the wire ``graph`` field (for readers and the inspector) every node is also written
as flat hash fields (``n:<i>:task``, ``:job``, ``:left``, ``:next``...), so advancing a node costs
a few HGETs whatever the graph size.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..durations import to_ms
from ..errors import ConfigurationError
from ..job_fields import check_job_id, check_meta
from ..serialization import Serializer
from .signature import Chain, Chord, Chunks, Composable, Group, Signature
from .step_options import step_claim_fields, step_dedup
from .wire import wire_name, wire_node


@dataclass
class Node:
    """One job of the workflow."""

    task: str
    deps: list[int]
    job_id: str
    version: int
    mode: str
    data: str | bytes | None
    #: The node joins a group (a chord body, or the step after a group in a chain): its upstream value is the
    #: list of all deps' results rather than one value (a bound node ignores it, but is a chord body still:
    #: Celery's cascade fails it with a ChordError and runs its errbacks).
    fanin: bool = False
    #: Extra job-hash fields for the node's job (front-end metadata).
    meta: dict[str, str] = field(default_factory=dict)
    #: delay_ms, priority, ttl_ms for the node's job (and ``dedup``, step_options.py).
    opts: dict[str, Any] = field(default_factory=dict)
    max_attempts: int = 1


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    terminal: list[int] = field(default_factory=list)
    #: The workflow result is the list of terminal results (a group at the top), not one value.
    list_result: bool = False
    name: str | None = None

    def dependents(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.nodes]
        for i, node in enumerate(self.nodes):
            for d in node.deps:
                out[d].append(i)
        return out

    def roots(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if not n.deps]

    def to_wire(self) -> str:
        """The ``graph`` field of wire v6 (``nodes``/``terminal``/``name``), plus our additive node keys."""
        nodes = [wire_node(n.task, n.deps, n.job_id, n.version, n.mode, n.data, n.fanin) for n in self.nodes]
        return json.dumps({"nodes": nodes, "terminal": self.terminal, "name": self.name or ""},
                          separators=(",", ":"), ensure_ascii=False)  # as JSON.stringify writes it


class GraphBuilder:
    """Walks a composition depth first, appending nodes; ``add`` returns (terminal nodes, fan-in)."""

    def __init__(self, serializer: Serializer, new_id: Callable[[], str] | None = None) -> None:
        self.serializer = serializer
        self.graph = Graph()
        self.new_id = new_id or (lambda: str(uuid.uuid4()))

    def build(self, root: Composable) -> Graph:
        terminal, fanin = self.add(root, [], False)
        self.graph.terminal = terminal
        self.graph.list_result = fanin
        if not self.graph.nodes:
            raise ConfigurationError("a workflow needs at least one task")
        return self.graph

    def add(self, sig: Composable, deps: list[int], fanin: bool) -> tuple[list[int], bool]:
        if isinstance(sig, Signature):
            return [self._node(sig, deps, fanin)], False
        if isinstance(sig, Chain):
            for step in sig.steps:
                deps, fanin = self.add(step, deps, fanin)
            return deps, fanin
        if isinstance(sig, Group):
            if not sig.members:  # an empty group inside a chain is skipped
                return deps, fanin
            terminal: list[int] = []
            for member in sig.members:
                terminal += self.add(member, deps, fanin)[0]
            return terminal, True
        if isinstance(sig, Chord):
            header = self.add(sig.header, deps, fanin)[0] if sig.header.members else []
            return self.add(sig.body, header, True)
        if isinstance(sig, Chunks):
            return self._chunks(sig, deps), True
        raise ConfigurationError(f"cannot build a workflow from {sig!r}")

    def _chunks(self, sig: Chunks, deps: list[int]) -> list[int]:
        every: list[int] = []
        for batch in sig.batches():
            nodes = [self._node(Signature(sig.task, item), deps, False) for item in batch]
            every += nodes
            deps = nodes
        return every

    def _node(self, sig: Signature, deps: list[int], fanin: bool) -> int:
        if not deps and sig.mode == "pipe" and not fanin:
            raise ConfigurationError(f"{sig.task.name}.s() has no input: the first step of a workflow needs "
                                     f"bound data, e.g. {sig.task.name}.s(data)")
        data = None if sig.mode == "pipe" else self.serializer.dumps(_bound_data(sig))
        where = f"{sig.task.name}.s()"
        job_id = check_job_id(sig.options.get("job_id"), where) or self.new_id()
        fields = {**check_meta(sig.options.get("meta"), where), **step_claim_fields(sig.task, sig.options, where)}
        node = Node(task=sig.task.name, deps=list(deps), job_id=job_id, version=sig.task.options.version,
                    mode=sig.mode, data=data, fanin=fanin, meta=fields,
                    opts={**_node_opts(sig), **step_dedup(where, sig.options)},
                    max_attempts=sig.task.options.retry.attempts)
        self.graph.nodes.append(node)
        return len(self.graph.nodes) - 1


def _bound_data(sig: Signature) -> Any:
    """A step's bound data as a dispatch stores it: validated by the task's input schema (validation.py)."""
    if sig.mode != "bound":
        return sig.data
    return sig.task.io.for_dispatch(sig.data, sig.task.app.validate_on_dispatch)


def _node_opts(sig: Signature) -> dict[str, int]:
    out: dict[str, int] = {}
    if sig.options.get("delay") is not None:
        out["delay_ms"] = to_ms(sig.options["delay"], name="delay")
    if sig.options.get("ttl") is not None:
        out["ttl_ms"] = to_ms(sig.options["ttl"], name="ttl")
    if sig.options.get("priority") is not None:
        out["priority"] = int(sig.options["priority"])
    out["attempts"] = sig.task.options.retry.attempts
    return out


def build_graph(root: Composable, serializer: Serializer, name: str | None = None) -> Graph:
    """Flatten ``root`` into a Graph with fresh job ids."""
    graph = GraphBuilder(serializer).build(root)
    graph.name = name or wire_name(root)
    return graph


def node_input(serializer: Serializer, mode: str, data: Any, fanin: bool,
               upstream: list[Any]) -> str | bytes:  # fmt: skip
    """The serialized job data of a node whose deps completed with the serialized ``upstream`` results."""
    if mode == "bound":
        serialized: str | bytes = data  # bound data was serialized when the workflow was dispatched
        return serialized
    if mode == "pipe" and not fanin and len(upstream) == 1:
        passed_on: str | bytes = upstream[0]  # the upstream result is already this node's serialized input
        return passed_on
    values = [serializer.loads(r) if r not in (None, b"", "") else None for r in upstream]
    value = values if fanin else (values[0] if values else None)
    if mode == "pipe":
        return serializer.dumps(value)
    envelope = dict(serializer.loads(data))
    envelope["args"] = [value, *envelope.get("args", [])]
    return serializer.dumps(envelope)
