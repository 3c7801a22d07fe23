"""Reading the wire ``graph`` JSON of a workflow the TypeScript taskora made.

TypeScript stores a workflow's topology only there (``{"nodes":[{taskName, deps, jobId, _v, data?}],
"terminal":[...], "name"}``); a Python-made workflow also has per-node hash fields, which the rest of
taskora/workflow/ reads. This is what a Python producer or inspector needs from a TypeScript-made one.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import TaskoraError
from .signature import Chain, Chord, Chunks, Composable, Group, Signature


def _parsed(graph_json: str) -> dict[str, Any]:
    try:
        graph = json.loads(graph_json)
        if isinstance(graph, dict) and isinstance(graph.get("nodes"), list):
            return graph
    except ValueError:
        pass
    raise TaskoraError(f"the workflow's graph JSON is not the wire v6 shape: {graph_json[:200]!r}")


def wire_nodes(graph_json: str) -> list[dict[str, Any]]:
    """Per node: index, task, job id, deps and whether it is terminal (``WorkflowHandle.nodes`` without state)."""
    graph = _parsed(graph_json)
    terminal = set(graph.get("terminal") or [])
    return [{"index": i, "task": n.get("taskName"), "job_id": n.get("jobId"), "deps": list(n.get("deps") or []),
             "terminal": i in terminal} for i, n in enumerate(graph["nodes"])]


def wire_terminals(graph_json: str) -> list[tuple[str, str]]:
    """(task, job id) of the graph's terminal nodes, in order: the nodes whose results are the workflow's."""
    try:
        graph = json.loads(graph_json)
        nodes = graph["nodes"]
        return [(str(nodes[i]["taskName"]), str(nodes[i]["jobId"])) for i in graph["terminal"]]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise TaskoraError(f"the workflow's graph JSON is not the wire v6 shape ({exc!r}): "
                           f"{graph_json[:200]!r}") from exc


def wire_name(sig: Composable) -> str:
    """The name TypeScript gives a workflow it dispatches without one (recordings 12-14):
    ``chain(add → double)``, ``group(add, add, double)``, ``chord(add, add → sum)``, nested alike."""
    if isinstance(sig, Signature):
        return sig.task.name
    if isinstance(sig, Chain):
        return f"chain({' → '.join(wire_name(s) for s in sig.steps)})"
    if isinstance(sig, Group):
        return f"group({', '.join(wire_name(m) for m in sig.members)})"
    if isinstance(sig, Chord):
        header = ", ".join(wire_name(m) for m in sig.header.members)
        return f"chord({header} → {wire_name(sig.body)})"
    if isinstance(sig, Chunks):
        return f"chunks({sig.task.name})"
    return type(sig).__name__.lower()


def wire_node(task: str, deps: list[int], job_id: str, version: int, mode: str, data: Any,
              fanin: bool) -> dict[str, Any]:  # fmt: skip
    """One node of the ``graph`` JSON as TypeScript writes it: ``taskName``, ``deps``, ``jobId``, ``_v`` and,
    for a node with its own input, ``data``. TypeScript infers the rest (a node with ``data`` ignores its
    input; one with several deps gets the array of their results), so ``mode`` and ``fanin`` are written
    only where ours differ from that inference (additive keys a TypeScript reader ignores)."""
    node: dict[str, Any] = {"taskName": task, "deps": deps, "jobId": job_id, "_v": version}
    if mode != "pipe" and data is not None:
        node["data"] = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if mode not in ("pipe", "bound"):
        node["mode"] = mode
    if fanin != (len(deps) > 1) and mode != "bound":
        node["fanin"] = fanin
    return node
