"""Adding a task to a running workflow's fan-in from inside one of its nodes.

The Celery front's ``Task.add_to_chord``: a chord header task adds a signature to its chord's header
while it runs, and the chord body waits for that task too (its result comes last in the body's list).
The new node is written by ``lua/workflow_add_node.lua`` (atomic with the fan-in's dep count, and into the
``graph`` JSON a TypeScript reader reads), then its job is enqueued under its pre-generated id like a root's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..errors import ConfigurationError, TaskoraError
from .dispatch import _root_request
from .graph import Node, build_graph
from .step_options import enqueue_steps, step_of
from .store import WorkflowStore
from .wire import wire_node

if TYPE_CHECKING:
    from ..app import Taskora
    from .signature import Signature

#: Why an add was refused, by the script's answer.
_REFUSALS = {
    "no-fan-in": "the calling node feeds no fan-in node (it is not a chord header member)",
    "started": "the fan-in node no longer waits (the chord body was already started or settled)",
    "missing": "the workflow is gone",
    "bad-graph": "its graph JSON is not the shape taskora writes",
}


def add_to_fan_in(app: Taskora, wf_id: str, caller: int, sig: Signature) -> str:
    """Add the single task ``sig`` as a node feeding the fan-in node that node ``caller`` feeds, enqueue its
    job and return the job id. Raises TaskoraError (naming why) when it cannot be added."""
    graph = build_graph(sig, app.serializer)
    if len(graph.nodes) != 1:
        raise ConfigurationError(f"only a single task can be added to a running workflow, got {len(graph.nodes)}")
    node = graph.nodes[0]
    status, index = WorkflowStore(app.adapter).add_node(wf_id, caller, node.task, node.job_id, _wire_json(node))
    if index is None:
        reason = _REFUSALS.get(status, f"the workflow is {status}")
        raise TaskoraError(f"cannot add {node.task} to workflow {wf_id} from node {caller}: {reason}")
    enqueue_steps(app, wf_id, [step_of(index, _root_request(app, wf_id, index, node, 0), node.opts)])
    return node.job_id


def _wire_json(node: Node) -> str:
    """The node as an object of the workflow's graph JSON, written as ``Graph.to_wire`` writes its nodes (a root:
    no deps), so a TypeScript reader of the graph sees the added node."""
    wire = wire_node(node.task, [], node.job_id, node.version, node.mode, node.data, False)
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False)
