"""Workflow storage for the workflow layer: builds the workflow hash's fields from a graph and reaches the store
only through the adapter's named ``workflow_*`` operations (taskora/adapters/workflows.py).

``ReadyNode``, ``OpenNode`` and ``KEEP_FINISHED_MS`` live with the adapter contract and are re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..adapters.base import KEEP_FINISHED_MS, Adapter, EnqueueRequest, OpenNode, ReadyNode

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ["KEEP_FINISHED_MS", "OpenNode", "ReadyNode", "WorkflowStore"]


class WorkflowStore:
    """Workflow reads and transitions for one adapter."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.keys = adapter.keys

    # -- creating -----------------------------------------------------------------------------
    def create(self, wf_id: str, graph: Graph, *, expire_at: int, cascade: str) -> None:
        """Write the workflow hash (one HSET: atomic) and index it; roots are enqueued by the caller."""
        now = self.adapter.now_ms()
        fields: dict[str, Any] = {
            "graph": graph.to_wire(), "state": "running", "createdAt": now, "nodeCount": len(graph.nodes),
            "terminalCount": len(graph.terminal), "terminalLeft": len(graph.terminal),
            "terminals": ",".join(map(str, graph.terminal)), "listResult": "1" if graph.list_result else "0",
            "name": graph.name or "", "expireAt": expire_at, "cascade": cascade,
        }  # fmt: skip
        fields.update(_node_fields(graph))
        self.adapter.workflow_create(wf_id, fields, created_at=now, expire_at=expire_at)

    # -- transitions --------------------------------------------------------------------------
    def advance(self, wf_id: str, node: int, result: str | bytes, *,
                json_results: bool = False) -> tuple[str, list[ReadyNode]]:  # fmt: skip
        """Mark ``node`` completed; returns the workflow state and the nodes now ready to run."""
        return self.adapter.workflow_advance(wf_id, node, result, json_results=json_results)

    def end(self, wf_id: str, final: str, *, node: int | None = None, error: str = "",
            detail: str = "") -> tuple[bool, list[OpenNode]]:  # fmt: skip
        """Fail or cancel the workflow; returns (this call ended it, the nodes left open)."""
        return self.adapter.workflow_end(wf_id, final, node=node, error=error, detail=detail)

    def settle(self, wf_id: str, items: Sequence[tuple[OpenNode, str, str, str]],
               node_fields: dict[int, dict[str, str]] | None = None) -> list[str]:  # fmt: skip
        """Finish node jobs, given (node, final state, error, detail) each, in one round trip."""
        return self.adapter.workflow_settle(wf_id, items, node_fields)

    def add_node(self, wf_id: str, caller: int, task: str, job_id: str, node_json: str) -> tuple[str, int | None]:
        """Add a root node feeding ``caller``'s fan-in dependent (see extend.py); (status, new index or None)."""
        return self.adapter.workflow_add_node(wf_id, caller, task, job_id, node_json)

    def enqueue(self, requests: list[EnqueueRequest]) -> list[bool]:
        return self.adapter.enqueue_many(requests)

    # -- reads ---------------------------------------------------------------------------------
    def fields(self, wf_id: str, names: Sequence[str]) -> dict[str, Any]:
        return self.adapter.workflow_fields(wf_id, names)

    def get_all(self, wf_id: str) -> dict[str, Any]:
        return self.adapter.workflow_hash(wf_id)

    def list_ids(self, start: int = 0, stop: int = -1) -> list[str]:
        """Known workflow ids, newest first."""
        return self.adapter.workflow_ids(start, stop)

    def forget(self, wf_ids: Sequence[str]) -> None:
        self.adapter.workflow_forget(wf_ids)

    def due_deadlines(self, limit: int = 100) -> list[str]:
        return self.adapter.workflow_due_deadlines(limit)

    def drop_deadline(self, wf_id: str) -> None:
        self.adapter.workflow_drop_deadline(wf_id)

    def memory_usage(self, wf_id: str) -> int:
        """Bytes Redis uses for the workflow hash (MEMORY USAGE; 0 where unsupported)."""
        return self.adapter.workflow_memory_usage(wf_id)


def _node_fields(graph: Graph) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    dependents = graph.dependents()
    terminal = set(graph.terminal)
    for i, node in enumerate(graph.nodes):
        p = f"n:{i}:"
        fields[p + "task"] = node.task
        fields[p + "job"] = node.job_id
        fields[p + "state"] = "pending" if node.deps else "waiting"
        if node.deps:
            fields[p + "deps"] = ",".join(map(str, node.deps))
            fields[p + "left"] = len(node.deps)
            fields[p + "mode"] = node.mode
            if node.data is not None:
                fields[p + "data"] = node.data
            if node.fanin:
                fields[p + "fanin"] = "1"
            meta = {"fields": node.meta, "v": node.version, **node.opts}
            fields[p + "meta"] = json.dumps(meta, separators=(",", ":"))
        if dependents[i]:
            fields[p + "next"] = ",".join(map(str, dependents[i]))
        if i in terminal:
            fields[p + "terminal"] = "1"
    return fields
