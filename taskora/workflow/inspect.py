"""Read-only views of workflows for the inspector and the CLI: list them, show one with its nodes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .handle import WorkflowHandle
from .store import WorkflowStore

if TYPE_CHECKING:
    from ..app import Taskora


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def list_workflows(app: Taskora, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first: id, name, state, node count, createdAt/finishedOn (ms). Forgets expired entries."""
    store = WorkflowStore(app.adapter)
    out, gone = [], []
    for wf_id in store.list_ids(0, limit - 1):
        f = store.fields(wf_id, ["state", "name", "nodeCount", "createdAt", "finishedOn"])
        if f["state"] is None:
            gone.append(wf_id)
            continue
        out.append({"id": wf_id, "name": _text(f["name"]) or None, "state": _text(f["state"]),
                    "nodes": int(_text(f["nodeCount"]) or 0), "created_at": int(_text(f["createdAt"]) or 0),
                    "finished_on": int(_text(f["finishedOn"]) or 0) if f["finishedOn"] else None})
    store.forget(gone)
    return out


def show_workflow(app: Taskora, wf_id: str) -> dict[str, Any] | None:
    """One workflow: state, error, result (when completed), graph and per-node state; None if unknown."""
    store = WorkflowStore(app.adapter)
    raw = store.get_all(wf_id)
    if not raw:
        return None
    handle = WorkflowHandle(app, wf_id)
    state = _text(raw.get("state"))
    result = None
    if state == "completed":
        result = handle._outcome()
    return {"id": wf_id, "name": _text(raw.get("name")) or None, "state": state, "error": _text(raw.get("error")),
            "created_at": int(_text(raw.get("createdAt")) or 0), "result": result,
            "graph": json.loads(_text(raw.get("graph")) or "{}"), "nodes": handle.nodes(),
            "memory_bytes": store.memory_usage(wf_id)}
