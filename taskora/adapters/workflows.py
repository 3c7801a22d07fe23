"""Workflow and saved-group storage: the workflow hash ``taskora:wf:{<id>}``, its index and deadlines, and the
``workflow_*`` engine scripts.

The workflow hash lives in its own cluster slot, apart from the task keys, so advancing (on the workflow
key) and enqueueing / settling node jobs (on task keys) are separate calls; the pre-generated job ids make
the second half safe to repeat. What a workflow means lives in taskora/workflow/; this is only its storage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .base import KEEP_FINISHED_MS, OpenNode, ReadyNode
from .core import RedisCore
from .replies import _text


class WorkflowOps(RedisCore):
    """Workflow reads and transitions, and the saved groups (``GroupResult.save``)."""

    def workflow_create(self, wf_id: str, fields: Mapping[str, Any], *, created_at: int, expire_at: int) -> None:
        """Write the workflow hash (one HSET: atomic) and index it (and its deadline, if any)."""
        self.ensure_handshake()
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.keys.workflow(wf_id), mapping=dict(fields))
        pipe.zadd(self.keys.workflows, {wf_id: created_at})
        if expire_at:
            pipe.zadd(self.keys.workflow_deadlines, {wf_id: expire_at})
        pipe.execute()

    def workflow_advance(self, wf_id: str, node: int, result: str | bytes, *,
                         json_results: bool = False) -> tuple[str, list[ReadyNode]]:  # fmt: skip
        """Mark ``node`` completed; returns the workflow state and the nodes now ready to run.

        ``json_results``: results are JSON text, so a group's result is stored as the JSON array of its
        members' results when it completes, as the TypeScript taskora stores it."""
        args = [self.now_ms(), node, result, KEEP_FINISHED_MS, "1" if json_results else "0"]
        reply = self.scripts.workflow_advance(self.runner, [self.keys.workflow(wf_id)], args)
        state = _text(reply[0])
        if state == "missing":
            return state, []
        return state, _ready_nodes(reply, int(reply[1]))

    def workflow_end(self, wf_id: str, final: str, *, node: int | None = None, error: str = "",
                     detail: str = "") -> tuple[bool, list[OpenNode]]:  # fmt: skip
        """Fail or cancel the workflow; returns (this call ended it, the nodes to settle). A workflow with
        Celery's ``fail`` cascade may answer (False, nodes): those can never run, the workflow runs on."""
        args = [self.now_ms(), final, "" if node is None else node, error, KEEP_FINISHED_MS, detail]
        reply = self.scripts.workflow_fail(self.runner, [self.keys.workflow(wf_id)], args)
        if _text(reply[0]) not in ("ok", "open"):
            return False, []
        rest = reply[1:]
        return _text(reply[0]) == "ok", [OpenNode(int(rest[i]), _text(rest[i + 1]), _text(rest[i + 2]),
                                                  _text(rest[i + 3]), _text(rest[i + 4]) == "1")
                                         for i in range(0, len(rest), 5)]

    def workflow_add_node(self, wf_id: str, caller: int, task: str, job_id: str,
                          node_json: str) -> tuple[str, int | None]:  # fmt: skip
        """Add a root node feeding the fan-in node ``caller`` feeds (lua/workflow_add_node.lua), ``node_json``
        being its object in the graph JSON: ('ok', index), else (why not, None)."""
        args = [caller, task, job_id, node_json]
        reply = self.scripts.workflow_add_node(self.runner, [self.keys.workflow(wf_id)], args)
        status = _text(reply[0])
        return status, int(reply[1]) if status == "ok" else None

    def workflow_settle(self, wf_id: str, items: Sequence[tuple[OpenNode, str, str, str]],
                        node_fields: dict[int, dict[str, str]] | None = None) -> list[str]:  # fmt: skip
        """Finish node jobs, given (node, final state, error, detail) each, in one pipeline: created
        final (with the node's front-end fields from ``node_fields``), dequeued, or flagged for cancel
        when active."""
        if not items:
            return []
        self.scripts.preload(self.client)
        calls = []
        for n, final, error, detail in items:
            keys = self.keys.queue(n.task) + [self.keys.cancel_channel(n.task)]
            extra = [part for k, v in (node_fields or {}).get(n.index, {}).items() for part in (k, v)]
            args = [self.keys.task_prefix(n.task), self.now_ms(), n.job_id, final, error, detail,
                    *extra, "_wf", wf_id, "_wfNode", str(n.index)]
            calls.append((keys, args))
        return [_text(r) for r in self._pipeline_scripts(self.scripts.workflow_settle, calls)]

    def workflow_fields(self, wf_id: str, names: Sequence[str]) -> dict[str, Any]:
        """The workflow hash's ``names`` fields, raw (None where missing)."""
        values = self.client.hmget(self.keys.workflow(wf_id), list(names))
        return dict(zip(names, values, strict=True))

    def workflow_hash(self, wf_id: str) -> dict[str, Any]:
        """The whole workflow hash: names as text, values raw ({} when it is gone)."""
        raw = self.client.hgetall(self.keys.workflow(wf_id))
        return {_text(k): v for k, v in raw.items()}

    def workflow_ids(self, start: int = 0, stop: int = -1) -> list[str]:
        """Known workflow ids, newest first."""
        return [_text(i) for i in self.client.zrevrange(self.keys.workflows, start, stop)]

    def workflow_forget(self, wf_ids: Sequence[str]) -> None:
        """Drop workflow ids from the index (their hashes expire on their own)."""
        if wf_ids:
            self.client.zrem(self.keys.workflows, *wf_ids)

    def workflow_due_deadlines(self, limit: int = 100) -> list[str]:
        """Ids of workflows whose deadline has passed, earliest first."""
        ids = self.client.zrangebyscore(self.keys.workflow_deadlines, "-inf", self.now_ms(), start=0, num=limit)
        return [_text(i) for i in ids]

    def workflow_drop_deadline(self, wf_id: str) -> None:
        self.client.zrem(self.keys.workflow_deadlines, wf_id)

    def workflow_memory_usage(self, wf_id: str) -> int:
        """Bytes Redis uses for the workflow hash (MEMORY USAGE; 0 where unsupported)."""
        try:
            return int(self.client.memory_usage(self.keys.workflow(wf_id), samples=0) or 0)
        except Exception:  # fakeredis has no MEMORY USAGE
            return 0

    def group_save(self, group_id: str, members_json: str, ttl_ms: int | None) -> None:
        """Store a group's member ids (JSON), replacing a previous save; expires after ``ttl_ms`` if given."""
        self.ensure_handshake()
        self.client.set(self.keys.group_result(group_id), members_json, px=ttl_ms if ttl_ms else None)

    def group_load(self, group_id: str) -> str | None:
        """The JSON saved by ``group_save``, or None when nothing was saved (or it expired)."""
        raw = self.client.get(self.keys.group_result(group_id))
        return None if raw is None else _text(raw)

    def group_delete(self, group_id: str) -> bool:
        return bool(self.client.delete(self.keys.group_result(group_id)))


def _ready_nodes(reply: Sequence[Any], count: int) -> list[ReadyNode]:
    """The ready nodes of a ``workflow_advance`` reply: 7 fixed items each, then a count of upstream results."""
    ready, pos = [], 2
    for _ in range(count):
        idx, task, job, mode, data, fanin, meta = reply[pos : pos + 7]
        size = int(reply[pos + 7])
        upstream = list(reply[pos + 8 : pos + 8 + size])
        pos += 8 + size
        ready.append(ReadyNode(int(idx), _text(task), _text(job), _text(mode) or "pipe", data,
                               _text(fanin) == "1", json.loads(_text(meta) or "{}"), upstream))
    return ready
