"""Every Redis call workflows make, over the app's adapter and the ``workflow_*`` engine scripts.

The workflow hash ``taskora:wf:{<id>}`` lives in its own cluster slot, apart from the task keys, so
advancing (on the workflow key) and enqueueing / settling node jobs (on task keys) are separate
calls; the pre-generated job ids make the second half safe to repeat.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..adapters.redis import EnqueueRequest, RedisAdapter

if TYPE_CHECKING:
    from .graph import Graph

#: How long a finished workflow hash is kept (ms), like failed jobs by default.
KEEP_FINISHED_MS = 7 * 24 * 3600 * 1000


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass
class ReadyNode:
    """A node whose deps all completed: what the caller needs to build and enqueue its job."""

    index: int
    task: str
    job_id: str
    mode: str
    data: bytes
    fanin: bool
    meta: dict[str, Any]
    upstream: list[bytes]


@dataclass
class OpenNode:
    """A node that had not finished when its workflow failed or was cancelled."""

    index: int
    task: str
    job_id: str
    previous: str
    #: The node takes a group's results (a chord body): Celery fails it with a ChordError.
    fanin: bool = False


class WorkflowStore:
    """Workflow reads and transitions for one adapter."""

    def __init__(self, adapter: RedisAdapter) -> None:
        self.adapter = adapter
        self.client = adapter.client
        self.keys = adapter.keys
        self.scripts = adapter.scripts

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
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.keys.workflow(wf_id), mapping=fields)
        pipe.zadd(self.keys.workflows, {wf_id: now})
        if expire_at:
            pipe.zadd(self.keys.workflow_deadlines, {wf_id: expire_at})
        pipe.execute()

    # -- transitions --------------------------------------------------------------------------
    def advance(self, wf_id: str, node: int, result: str | bytes) -> tuple[str, list[ReadyNode]]:
        """Mark ``node`` completed; returns the workflow state and the nodes now ready to run."""
        reply = self.scripts.workflow_advance(
            self.adapter.runner, [self.keys.workflow(wf_id)], [self.adapter.now_ms(), node, result, KEEP_FINISHED_MS])
        state = _text(reply[0])
        if state == "missing":
            return state, []
        ready, pos = [], 2
        for _ in range(int(reply[1])):
            idx, task, job, mode, data, fanin, meta = reply[pos : pos + 7]
            count = int(reply[pos + 7])
            upstream = list(reply[pos + 8 : pos + 8 + count])
            pos += 8 + count
            ready.append(ReadyNode(int(idx), _text(task), _text(job), _text(mode) or "pipe", data,
                                   _text(fanin) == "1", json.loads(_text(meta) or "{}"), upstream))
        return state, ready

    def end(self, wf_id: str, final: str, *, node: int | None = None, error: str = "",
            detail: str = "") -> tuple[bool, list[OpenNode]]:  # fmt: skip
        """Fail or cancel the workflow; returns (this call ended it, the nodes left open)."""
        args = [self.adapter.now_ms(), final, "" if node is None else node, error, KEEP_FINISHED_MS, detail]
        reply = self.scripts.workflow_fail(self.adapter.runner, [self.keys.workflow(wf_id)], args)
        if _text(reply[0]) != "ok":
            return False, []
        rest = reply[1:]
        return True, [OpenNode(int(rest[i]), _text(rest[i + 1]), _text(rest[i + 2]), _text(rest[i + 3]),
                               _text(rest[i + 4]) == "1") for i in range(0, len(rest), 5)]

    def settle(self, wf_id: str, items: Sequence[tuple[OpenNode, str, str, str]],
               node_fields: dict[int, dict[str, str]] | None = None) -> list[str]:  # fmt: skip
        """Finish node jobs, given (node, final state, error, detail) each, in one pipeline: created
        final (with the node's front-end fields from ``node_fields``), dequeued, or flagged for cancel
        when active."""
        if not items:
            return []
        self.adapter.scripts.load_all(self.client)
        calls = []
        for n, final, error, detail in items:
            keys = self.keys.queue(n.task) + [self.keys.cancel_channel(n.task)]
            extra = [part for k, v in (node_fields or {}).get(n.index, {}).items() for part in (k, v)]
            args = [self.keys.task_prefix(n.task), self.adapter.now_ms(), n.job_id, final, error, detail,
                    *extra, "_wf", wf_id, "_wfNode", str(n.index)]
            calls.append((keys, args))
        return [_text(r) for r in self.adapter._pipeline_scripts(self.scripts.workflow_settle, calls)]

    def enqueue(self, requests: list[EnqueueRequest]) -> list[bool]:
        return self.adapter.enqueue_many(requests)

    # -- reads ---------------------------------------------------------------------------------
    def fields(self, wf_id: str, names: Sequence[str]) -> dict[str, Any]:
        values = self.client.hmget(self.keys.workflow(wf_id), list(names))
        return dict(zip(names, values, strict=True))

    def get_all(self, wf_id: str) -> dict[str, Any]:
        raw = self.client.hgetall(self.keys.workflow(wf_id))
        return {_text(k): v for k, v in raw.items()}

    def list_ids(self, start: int = 0, stop: int = -1) -> list[str]:
        """Known workflow ids, newest first."""
        return [_text(i) for i in self.client.zrevrange(self.keys.workflows, start, stop)]

    def forget(self, wf_ids: Sequence[str]) -> None:
        if wf_ids:
            self.client.zrem(self.keys.workflows, *wf_ids)

    def due_deadlines(self, limit: int = 100) -> list[str]:
        ids = self.client.zrangebyscore(self.keys.workflow_deadlines, "-inf", self.adapter.now_ms(),
                                        start=0, num=limit)
        return [_text(i) for i in ids]

    def drop_deadline(self, wf_id: str) -> None:
        self.client.zrem(self.keys.workflow_deadlines, wf_id)

    def memory_usage(self, wf_id: str) -> int:
        """Bytes Redis uses for the workflow hash (MEMORY USAGE; 0 where unsupported)."""
        try:
            return int(self.client.memory_usage(self.keys.workflow(wf_id), samples=0) or 0)
        except Exception:  # fakeredis has no MEMORY USAGE
            return 0


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
