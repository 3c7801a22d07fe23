"""What a workflow step (``task.s(...)``) takes beyond delay/priority/ttl/meta/job_id: its job's
concurrency key and limit, ``deduplicate``, and a clear refusal of the other flow options.

A step's job is created when the workflow reaches it, under an id the workflow waits on. A
``deduplicate`` step whose key is held by a live job (another workflow's step, or a plain dispatch) is
not created, and its workflow **fails** at that step with a DuplicateJobError naming the holder: what a
chain with a ``celery_once`` task does in Celery (its ``apply_async`` raises AlreadyQueued where the chain
reaches it), and never a workflow waiting for a job that will not run. ``throttle`` and ``debounce`` are
refused: a throttle would fail the workflow on load rather than deduplicated work, and a later debounce
dispatch would delete the step's job. A concurrency key only decides *when* the created job starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import concurrency
from ..adapters.base import EnqueueRequest, FlowRequest, OpenNode
from ..errors import ConfigurationError
from ..flow_control import parse_flow
from .store import WorkflowStore

if TYPE_CHECKING:
    from ..app import Taskora
    from ..task import Task

#: The concurrency options a step takes (over its task's declaration, as at dispatch).
STEP_CLAIM_OPTIONS = frozenset({"concurrency_key", "concurrency_limit"})
#: Dispatch options a step refuses, each with the reason the error gives.
REFUSED_STEP_OPTIONS = {
    "throttle": "a step refused for load would fail its whole workflow (deduplicate does that on purpose)",
    "debounce": "a later dispatch would delete the step's job and leave its workflow waiting for it",
    "throw_on_reject": "a deduplicated step always fails its workflow with a DuplicateJobError",
}


def refuse_flow_options(where: str, options: Mapping[str, Any]) -> None:
    """ConfigurationError naming a flow-control option given to a step, and why a step cannot take it."""
    for name, why in REFUSED_STEP_OPTIONS.items():
        if name in options:
            raise ConfigurationError(f"{where}: a workflow step does not take {name}: {why}; dispatch the "
                                     "task on its own for that")


def step_claim_fields(task: Task[Any, Any], options: Mapping[str, Any], where: str) -> dict[str, str]:
    """The job fields of a step's own ``concurrency_key``/``concurrency_limit`` (checked now, as the workflow
    is dispatched). A limit alone keeps the task's key, which the step's job gets when it is created."""
    given = {name: options[name] for name in STEP_CLAIM_OPTIONS if options.get(name) is not None}
    if not given:
        return {}
    if "concurrency_key" in given:
        return concurrency.job_fields(task.options, None, given, where)
    limit = concurrency.check_limit(given["concurrency_limit"], where)
    if not task.options.singleton and task.options.concurrency_key is None:
        raise ConfigurationError(f"{where}: concurrency_limit needs a concurrency_key (on this step or on the task)")
    return {"concurrencyLimit": str(limit)}


def step_dedup(where: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """A step's ``deduplicate`` as node options (``{"dedup": {"key", "while"}}``, stored with the workflow so
    the worker that reaches the step applies it); ConfigurationError as ``dispatch`` gives for a bad one."""
    config = options.get("deduplicate")
    if config is None:
        return {}
    flow = parse_flow(where, {"deduplicate": config})
    assert flow is not None
    return {"dedup": {"key": flow.request.key, "while": list(flow.request.states)}}


@dataclass
class Step:
    """One step's job about to be created: its node index, its enqueue, and its dedup (None: plain)."""

    index: int
    request: EnqueueRequest
    dedup: FlowRequest | None = None


def step_of(index: int, request: EnqueueRequest, meta: Mapping[str, Any]) -> Step:
    """The Step of node ``index`` from its stored node options (see ``step_dedup``)."""
    dedup = meta.get("dedup")
    if not dedup:
        return Step(index, request)
    return Step(index, request, FlowRequest("deduplicate", str(dedup["key"]), states=tuple(dedup["while"])))


def enqueue_steps(app: Taskora, wf_id: str, steps: Sequence[Step]) -> None:
    """Create the jobs of ``steps`` (one pipelined call per task, as before, without dedup); a step whose
    dedup key a live job holds fails the workflow there (see the module docstring)."""
    store = WorkflowStore(app.adapter)
    if all(step.dedup is None for step in steps):
        store.enqueue([step.request for step in steps])
        return
    by_task: dict[str, list[Step]] = {}
    for step in steps:
        by_task.setdefault(step.request.task, []).append(step)
    duplicates = []
    for group in by_task.values():
        outcomes = app.adapter.enqueue_many_deduplicated([s.request for s in group], [s.dedup for s in group])
        duplicates += [(step, outcome.existing_id) for step, outcome in zip(group, outcomes, strict=True)
                       if outcome.reason == "duplicate" and outcome.existing_id != step.request.id]
    if duplicates:  # a repeated advance finds its own job holding the key: not a duplicate
        step, holder = duplicates[0]
        _fail_duplicate(app, store, wf_id, step, holder or "")


def _fail_duplicate(app: Taskora, store: WorkflowStore, wf_id: str, step: Step, holder: str) -> None:
    """Finish the step's own job as failed (so its handle resolves), then end the workflow failed at ``step``."""
    assert step.dedup is not None
    message = f"duplicate job: job {holder} holds deduplicate key {step.dedup.key!r}"
    detail = json.dumps({"type": "DuplicateJobError", "module": "taskora.errors", "message": message,
                         "args": [step.dedup.key, holder], "traceback": ""})
    node = OpenNode(step.index, step.request.task, step.request.id, "pending")
    fields = {k: v for k, v in step.request.fields.items() if k not in ("_wf", "_wfNode")}
    store.settle(wf_id, [(node, "failed", message, detail)], {step.index: fields})  # first: a waiter sees both
    app.workflows.end(wf_id, "failed", node=step.index, error=message, detail=detail)
