"""WorkflowHandle: what dispatching a composition returns, to wait for, inspect or cancel it."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..errors import CancelledError, JobFailedError, TaskoraError, TimeoutError, error_type_of
from ..validation import typed_result
from .store import WorkflowStore
from .wire import wire_nodes, wire_terminals

if TYPE_CHECKING:
    from ..app import Taskora
    from .graph import Graph

#: Workflow states: running, then completed, failed or cancelled.
FINAL_STATES = frozenset({"completed", "failed", "cancelled"})
#: How long ``result()`` waits on one final node's job before it looks at the workflow's own state again.
WAIT_SLICE_S = 1.0
#: Longest ``result()`` (with no timeout) waits for a workflow whose final jobs ended to end too: the lock
#: ttl of a TypeScript worker, which advances after its ack (see ``_await_advance``).
ADVANCE_GRACE_S = 30.0


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class WorkflowHandle:
    """A dispatched workflow, by id. ``result()`` blocks until it ends; ``cancel()`` cascades."""

    def __init__(self, app: Taskora, workflow_id: str, *, graph: Graph | None = None) -> None:
        self.app = app
        self.id = workflow_id
        self.workflow_id = workflow_id
        self.graph = graph
        self._store = WorkflowStore(app.adapter)

    def __repr__(self) -> str:
        return f"<WorkflowHandle {self.id}>"

    # -- structure ------------------------------------------------------------------------------
    def nodes(self) -> list[dict[str, Any]]:
        """Per node: index, task, job id, deps and state (pending, waiting, completed, failed, cancelled)."""
        raw = self._store.get_all(self.id)
        if raw.get("nodeCount") is None and raw.get("graph") is not None:  # made by TypeScript
            return [{**node, "state": _text(raw.get(f"n:{node['index']}:state"))}
                    for node in wire_nodes(_text(raw["graph"]) or "")]
        count = int(_text(raw.get("nodeCount")) or 0)
        out = []
        for i in range(count):
            p = f"n:{i}:"
            deps = _text(raw.get(p + "deps")) or ""
            out.append({"index": i, "task": _text(raw.get(p + "task")), "job_id": _text(raw.get(p + "job")),
                        "deps": [int(d) for d in deps.split(",") if d], "state": _text(raw.get(p + "state")),
                        "terminal": _text(raw.get(p + "terminal")) == "1"})
        return out

    def terminal_jobs(self) -> list[tuple[str, str]]:
        """(task, job id) of the nodes whose results make the workflow's result, in order."""
        if self.graph is not None:
            return [(self.graph.nodes[i].task, self.graph.nodes[i].job_id) for i in self.graph.terminal]
        f = self._store.fields(self.id, ["terminals", "graph"])
        if f["terminals"] is None and f["graph"] is not None:  # made by TypeScript: only the graph JSON
            return wire_terminals(_text(f["graph"]) or "")
        idx = [int(i) for i in (_text(f["terminals"]) or "").split(",") if i]
        names = [n for i in idx for n in (f"n:{i}:task", f"n:{i}:job")]
        values = self._store.fields(self.id, names) if names else {}
        return [(_text(values[f"n:{i}:task"]) or "", _text(values[f"n:{i}:job"]) or "") for i in idx]

    def job_ids(self) -> list[str]:
        """Every node's job id, in node order (pre-generated at dispatch)."""
        if self.graph is not None:
            return [n.job_id for n in self.graph.nodes]
        return [n["job_id"] for n in self.nodes()]

    # -- state and result --------------------------------------------------------------------
    def state(self) -> str | None:
        """running, completed, failed or cancelled (None once the hash expired or never existed)."""
        return _text(self._store.fields(self.id, ["state"])["state"])

    def result(self, timeout: float | None = None) -> Any:
        """The workflow's result: the last step's value, or the list of a final group's values.

        Raises JobFailedError (naming the failed node's job) when a node failed for good,
        CancelledError when the workflow was cancelled or ran past its ttl, TimeoutError on timeout.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        reader = self.app._events_reader()
        for task, job_id in self.terminal_jobs():
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"workflow {self.id} did not finish within {timeout}s")
                if reader.wait(task, job_id, WAIT_SLICE_S if left is None else min(left, WAIT_SLICE_S)) is not None:
                    break
                # A final node's job can be gone already (retention trims completed jobs) while the workflow's
                # own record, which keeps every node's result, says it ended. Otherwise (the usual case) the
                # wait ends with the job, so the caller sees the cascade of a failure settled too.
                if self.state() in FINAL_STATES:
                    return self._outcome()
        self._await_advance(deadline, timeout)
        return self._outcome()

    def _await_advance(self, deadline: float | None, timeout: float | None) -> None:
        """Wait for the workflow to end once its final nodes' jobs did.

        A Python worker advances a workflow before it acks the node's job, but a TypeScript worker acks
        first and advances in a separate call: between the two the jobs are final and the workflow still
        running. No event marks the advance, so this polls briefly, up to the caller's deadline (at most
        ``ADVANCE_GRACE_S`` without one: a worker that died in that window never advances it)."""
        limit = time.monotonic() + ADVANCE_GRACE_S
        deadline = limit if deadline is None else deadline
        pause = 0.002
        while self.state() == "running":
            if time.monotonic() >= deadline:
                if deadline < limit:
                    raise TimeoutError(f"workflow {self.id} did not finish within {timeout}s")
                return
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _outcome(self) -> Any:
        f = self._store.fields(self.id, ["state", "error", "errorDetail", "failedNode", "terminals", "listResult",
                                         "result"])
        state = _text(f["state"])
        if state == "completed":
            return self._completed_result(f)
        if state == "failed":
            node = _text(f["failedNode"])
            job = _text(self._store.fields(self.id, [f"n:{node}:job"])[f"n:{node}:job"]) if node else self.id
            task = _text(self._store.fields(self.id, [f"n:{node}:task"])[f"n:{node}:task"]) if node else None
            raise JobFailedError(job or self.id, _text(f["error"]) or "unknown error", task,
                                 error_type_of(f["errorDetail"]))
        if state == "cancelled":
            raise CancelledError(self.id, _text(f["error"]) or None)
        raise TaskoraError(f"workflow {self.id} is {state or 'unknown'} although its final nodes ended")

    def _completed_result(self, f: dict[str, Any]) -> Any:
        """The stored ``result`` (as TypeScript stores it, and we since wire-interop: a group's is the JSON
        array of its members' results); assembled from the nodes' results when absent (a group of a
        workflow stored before, or with a serializer other than JSON). Each value comes back as its task's
        output model when it has one."""
        listed = _text(f["listResult"]) == "1"
        idx = [int(i) for i in (_text(f["terminals"]) or "").split(",") if i]
        stored = self.app.serializer.loads(f["result"]) if f["result"] is not None else None
        assemble = f["result"] is None or (listed and not isinstance(stored, list))
        names = ("result", "task") if assemble else ("task",)
        wanted = [f"n:{i}:{name}" for i in idx for name in names]
        raw = self._store.fields(self.id, wanted) if wanted else {}
        values: list[Any] = [self.app.serializer.loads(raw[f"n:{i}:result"]) for i in idx] if assemble else (
            list(stored or ()) if listed else [stored])
        tasks = [_text(raw.get(f"n:{i}:task")) for i in idx]
        if len(tasks) == len(values):
            values = [typed_result(self.app, task, value) for task, value in zip(tasks, values, strict=True)]
        return values if listed else values[0]

    def cancel(self, reason: str | None = None) -> bool:
        """Cancel every pending and active node; returns False when the workflow had already ended."""
        return self.app.workflows.end(self.id, "cancelled", error=reason or "workflow cancelled")

    # -- asyncio twins ----------------------------------------------------------------------------
    async def aresult(self, timeout: float | None = None) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, self.result, timeout)

    async def astate(self) -> str | None:
        return await asyncio.get_running_loop().run_in_executor(None, self.state)

    async def acancel(self, reason: str | None = None) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, self.cancel, reason)
