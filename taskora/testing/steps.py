"""The workflow steps a TestRunner ran: which node of which workflow, by which task, how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkflowStep:
    """One run of a workflow node (seeds: ``runner.steps`` -> workflowId, nodeIndex, taskName, state)."""

    workflow_id: str
    node_index: int
    task_name: str
    #: How the attempt ended: ``completed``, ``failed`` or ``cancelled``.
    state: str


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class StepRecorder:
    """A worker job hook: notes each workflow node a job runs, in the order they finish.

    The node is read when the job starts, since a handler may detach its job from the node
    (``ctx.hand_off_workflow``) before it finishes.
    """

    def __init__(self) -> None:
        self.steps: list[WorkflowStep] = []
        self._nodes: dict[str, tuple[str, int]] = {}

    def job_started(self, runtime: Any) -> None:
        wf_id, node = runtime.fields.get("_wf"), runtime.fields.get("_wfNode")
        if wf_id and node not in (None, "", b""):
            self._nodes[runtime.id] = (_text(wf_id), int(_text(node)))

    def job_finished(self, runtime: Any, outcome: Any) -> None:
        node = self._nodes.pop(runtime.id, None)
        if node is not None and outcome is not None:
            self.steps.append(WorkflowStep(node[0], node[1], runtime.task_name, outcome.kind))

    def clear(self) -> None:
        self.steps.clear()
        self._nodes.clear()
