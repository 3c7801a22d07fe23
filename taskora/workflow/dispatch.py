"""Dispatching a composition: flatten, store the workflow hash, enqueue the root nodes."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ..adapters.base import EnqueueRequest
from ..claim_control import node_claim_fields
from ..dispatch_hooks import before_dispatch
from ..durations import to_ms
from ..errors import ConfigurationError
from ..options import stored_max_attempts
from .graph import Node, build_graph, node_input
from .handle import WorkflowHandle
from .step_options import enqueue_steps, step_of
from .store import WorkflowStore

if TYPE_CHECKING:
    from ..app import Taskora
    from .signature import Composable

#: How a failed node ends the nodes that can no longer run: ``cancel`` (taskora) or ``fail`` (Celery:
#: every remaining step is marked failed with the same error).
CASCADES = frozenset({"cancel", "fail"})


def dispatch_workflow(root: Composable, *, ttl: Any = None, name: str | None = None, cascade: str = "cancel",
                      workflow_id: str | None = None) -> WorkflowHandle:  # fmt: skip
    """Flatten ``root``, write ``taskora:wf:{<id>}``, enqueue its roots and return the handle."""
    if cascade not in CASCADES:
        raise ConfigurationError(f"cascade must be one of {sorted(CASCADES)}, got {cascade!r}")
    app: Taskora = root.app()
    graph = build_graph(root, app.serializer, name)
    wf_id = workflow_id or str(uuid.uuid4())
    expire_at = app.adapter.now_ms() + to_ms(ttl, name="ttl") if ttl is not None else 0
    store = WorkflowStore(app.adapter)
    store.create(wf_id, graph, expire_at=expire_at, cascade=cascade)
    enqueue_steps(app, wf_id, [step_of(i, _root_request(app, wf_id, i, graph.nodes[i], expire_at), graph.nodes[i].opts)
                               for i in graph.roots()])
    return WorkflowHandle(app, wf_id, graph=graph)


def _root_request(app: Taskora, wf_id: str, index: int, node: Node, wf_expire_at: int) -> EnqueueRequest:
    # A root takes no upstream value, except a fan-in root (a chord whose header is empty) which gets [].
    data = node_input(app.serializer, node.mode, node.data, True, []) if node.fanin else node.data
    assert data is not None
    return job_request(app, wf_id, index, node.task, node.job_id, data, node.version,
                       {"fields": node.meta, **node.opts}, wf_expire_at)


def job_request(app: Taskora, wf_id: str, index: int, task: str, job_id: str, data: str | bytes, version: int,
                meta: dict[str, Any], wf_expire_at: int = 0) -> EnqueueRequest:  # fmt: skip
    """The enqueue of one node's job, tagged with ``_wf``/``_wfNode`` so its worker advances the workflow."""
    now = app.adapter.now_ms()
    delay = int(meta.get("delay_ms", 0))
    expire_at = now + delay + int(meta["ttl_ms"]) if meta.get("ttl_ms") else 0
    if wf_expire_at and (not expire_at or wf_expire_at < expire_at):
        expire_at = wf_expire_at
    local = app.tasks.get(task)
    attempts = int(meta.get("attempts") or (local.options.retry.attempts if local else 1))
    priority = int(meta.get("priority", local.options.priority if local else 0))
    fields = {**{str(k): str(v) for k, v in (meta.get("fields") or {}).items()}, "_wf": wf_id, "_wfNode": str(index)}
    if local is not None and "concurrencyKey" not in fields:  # a step's own key wins; its own limit too
        fields.update({k: v for k, v in node_claim_fields(local, data).items() if k not in fields})
    request = EnqueueRequest(task=task, id=job_id, data=data, delay_ms=delay, priority=priority,
                             max_attempts=stored_max_attempts(attempts),
                             expire_at_ms=expire_at, version=version, fields=fields)
    return before_dispatch(app, local.options.middleware if local else (), request)
