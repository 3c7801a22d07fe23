"""What a worker does when a workflow node's job ends, and the workflow ttl sweep.

The worker calls these *before* its own ack/fail transition: if it dies in between, the job is run
again (stall recovery) and the repeated advance is harmless (a completed node is not counted twice
and its ready dependents are re-enqueued under their pre-generated ids, which enqueue ignores).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from ..errors import error_type_of
from ..events import Event
from .dispatch import job_request
from .graph import node_input
from .step_options import enqueue_steps, step_of
from .store import OpenNode, WorkflowStore

if TYPE_CHECKING:
    from ..app import Taskora

log = logging.getLogger("taskora.workflow")


def _node_of(fields: dict[str, Any]) -> tuple[str, int] | None:
    wf, node = fields.get("_wf"), fields.get("_wfNode")
    if not wf or node in (None, ""):
        return None
    return str(wf), int(node)


def on_completed(app: Taskora, fields: dict[str, Any], payload: str | bytes) -> None:
    """A node completed: record its result and enqueue the nodes it made ready."""
    where = _node_of(fields)
    if where is None:
        return
    wf_id, node = where
    store = WorkflowStore(app.adapter)
    state, ready = store.advance(wf_id, node, payload, json_results=app.serializer.name == "json")
    if state == "failing":  # Celery's cascade: a node failed earlier, this completion may unblock its settling
        end_workflow(app, wf_id, "advanced", node=node)
    steps = []
    for r in ready:
        data = node_input(app.serializer, r.mode, r.data, r.fanin, r.upstream)
        request = job_request(app, wf_id, r.index, r.task, r.job_id, data, int(r.meta.get("v", 1)), r.meta)
        steps.append(step_of(r.index, request, r.meta))
    if steps:
        enqueue_steps(app, wf_id, steps)  # a deduplicated step fails the workflow (step_options.py)


def on_failed(app: Taskora, fields: dict[str, Any], error: str, detail: str = "") -> None:
    """A node failed for good: the workflow fails and every unfinished node is settled."""
    where = _node_of(fields)
    if where is not None:
        end_workflow(app, where[0], "failed", node=where[1], error=error, detail=detail)


def on_cancelled(app: Taskora, fields: dict[str, Any], reason: str | None) -> None:
    """A node was cancelled: its workflow is cancelled too (a no-op when that caused it)."""
    where = _node_of(fields)
    if where is not None:
        end_workflow(app, where[0], "cancelled", node=where[1], error=reason or "cancelled")


def end_workflow(app: Taskora, wf_id: str, final: str, *, node: int | None = None, error: str = "",
                 detail: str = "") -> bool:  # fmt: skip
    """Fail or cancel ``wf_id`` and settle its open nodes; False when it had already ended.

    With Celery's ``fail`` cascade a failure (or, ``final="advanced"``, a completion in a workflow that
    has a failed node) settles only the nodes that can no longer run, failed with the first failure's
    error; the workflow ends (True) once every node has ended (lua/lib/wf_dependents.lua)."""
    store = WorkflowStore(app.adapter)
    ended, open_nodes = store.end(wf_id, final, node=node, error=error, detail=detail)
    if not ended and not open_nodes:
        return False
    first = _first_failure(store, wf_id)
    if first is not None:  # the 'fail' cascade: what is settled carries the first failure
        error, detail, failing_job = first
        settled = [_settlement(n, "failed", error, detail, True, failing_job) for n in open_nodes]
    else:
        settled = [_settlement(n, final, error, detail, False, None) for n in open_nodes]
    node_fields = _node_fields(store, wf_id, open_nodes)
    store.settle(wf_id, settled, node_fields)
    if ended:
        store.drop_deadline(wf_id)
    _announce(app, wf_id, "cancelled" if final == "cancelled" else "failed", node, error, settled, node_fields,
              ended)
    return ended


def _first_failure(store: WorkflowStore, wf_id: str) -> tuple[str, str, Any] | None:
    """(error, detail, failed job id) of a failed workflow with the ``fail`` cascade, else None."""
    f = store.fields(wf_id, ["cascade", "state", "failedNode", "error", "errorDetail"])
    if _str(f["cascade"]) != "fail" or _str(f["state"]) == "cancelled" or f["failedNode"] is None:
        return None
    failed = _str(f["failedNode"])
    job = store.fields(wf_id, [f"n:{failed}:job"])[f"n:{failed}:job"]
    return _str(f["error"]), _str(f["errorDetail"]), job


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _node_fields(store: WorkflowStore, wf_id: str, nodes: list[OpenNode]) -> dict[int, dict[str, str]]:
    """The front-end job fields each open node would have been enqueued with (kept on its settled job)."""
    if not nodes:
        return {}
    raw = store.fields(wf_id, [f"n:{n.index}:meta" for n in nodes])
    out: dict[int, dict[str, str]] = {}
    for n in nodes:
        value = raw.get(f"n:{n.index}:meta")
        meta = json.loads(value.decode() if isinstance(value, bytes) else value) if value else {}
        out[n.index] = {str(k): str(v) for k, v in (meta.get("fields") or {}).items()}
    return out


def _announce(app: Taskora, wf_id: str, final: str, node: int | None, error: str,
              settled: list[tuple[OpenNode, str, str, str]], node_fields: dict[int, dict[str, str]],
              ended: bool) -> None:  # fmt: skip
    """Emit ``workflow:<final>`` in this process only (the one that settled them), listing the settled nodes;
    ``extra["ended"]`` is False while a workflow with the ``fail`` cascade still has nodes running."""
    name = f"workflow:{final}"
    if not app.events.has(name):
        return
    nodes = [{"index": n.index, "task": n.task, "job_id": n.job_id, "fanin": n.fanin, "state": state,
              "error": err, "detail": det, "fields": node_fields.get(n.index, {})} for n, state, err, det in settled]
    app.events.emit(name, Event(name=name, task="", id=wf_id, error=error, reason=error,
                                extra={"node": node, "settled": nodes, "ended": ended}))


def _settlement(n: OpenNode, final: str, error: str, detail: str, celery: bool,
                failing_job: Any) -> tuple[OpenNode, str, str, str]:  # fmt: skip
    """Celery marks the remaining steps failed with the same error, and a fan-in node (a chord body) with a
    DependencyFailedError naming the failed job (which the Celery front shows as its ChordError)."""
    if not celery:
        return n, "cancelled", f"workflow {final}: {error}" if final == "failed" else error, ""
    if not n.fanin:
        return n, "failed", error, detail
    job = failing_job.decode() if isinstance(failing_job, bytes) else failing_job
    kind = error_type_of(detail)  # the stored error is the bare message; Celery names the type
    message = f"Dependency {job} raised {kind + ': ' if kind else ''}{error}"
    chord_detail = json.dumps({"type": "DependencyFailedError", "module": "taskora.errors", "message": message,
                               "args": [message], "traceback": ""})
    return n, "failed", f"DependencyFailedError: {message}", chord_detail


def sweep_expired(app: Taskora, limit: int = 100) -> int:
    """Cancel workflows past their ttl; returns how many this call ended."""
    store = WorkflowStore(app.adapter)
    ended = 0
    for wf_id in store.due_deadlines(limit):
        if end_workflow(app, wf_id, "cancelled", error="workflow ttl expired"):
            ended += 1
        store.drop_deadline(wf_id)
    return ended
