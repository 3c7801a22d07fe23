"""Dispatch-time flow control: debounce, throttle and deduplicate, each one engine script
(lua/debounce.lua, lua/throttle.lua, lua/deduplicate.lua) that decides and writes atomically.

Keys are TypeScript taskora's (wire v6): ``<task prefix>debounce:<key>``, ``<task prefix>throttle:<key>``
and ``<task prefix>dedup:<key>``, all under the task's hash tag; a deduplicated job names its key in the
job hash field ``dedupKey``.
"""

from __future__ import annotations

from typing import Any

from .base import EnqueueRequest, FlowOutcome, FlowRequest
from .core import RedisCore
from .dispatch import DispatchOps
from .replies import _text

#: The flow-control kinds and the key segment each one's keys use.
KEY_SEGMENTS = {"debounce": "debounce", "throttle": "throttle", "deduplicate": "dedup",
                "throttle_ends": "throttleEnds"}  # the window's end by the caller's clock (additive)


class FlowOps(RedisCore):
    """Flow-controlled enqueues (see the module docstring)."""

    def flow_key(self, task: str, kind: str, key: str) -> str:
        """The Redis key of flow-control ``kind`` for the user's ``key`` (the inspector reads it back too)."""
        return f"{self.keys.task_prefix(task)}{KEY_SEGMENTS[kind]}:{key}"

    def enqueue_flow(self, req: EnqueueRequest, flow: FlowRequest) -> FlowOutcome:
        """Enqueue ``req`` under ``flow`` in one script call; see ``FlowOutcome``."""
        key = self.flow_key(req.task, flow.kind, flow.key)
        head: list[Any] = [self.keys.task_prefix(req.task), self.now_ms(), key]
        keys = self.keys.queue(req.task)
        if flow.kind == "debounce":
            status, replaced = self.scripts.debounce(self.runner, keys, head + DispatchOps._job_record(req))
            return FlowOutcome(_text(status) == "created", _reason(status), replaced_id=_text(replaced) or None)
        if flow.kind == "throttle":
            ends = self.flow_key(req.task, "throttle_ends", flow.key)
            args = head + [ends, flow.max, flow.window_ms] + DispatchOps._job_record(req)
            status = self.scripts.throttle(self.runner, keys, args)
            return FlowOutcome(_text(status) == "created", _reason(status))
        record = DispatchOps._job_record(req)
        record[7] += 2  # one more extra field: the job names its dedup key (lib/enqueue.lua's record)
        record += ("dedupKey", key)
        status, holder = self.scripts.deduplicate(self.runner, keys, head + [",".join(flow.states)] + record)
        return FlowOutcome(_text(status) == "created", _reason(status), existing_id=_text(holder) or None)


def _reason(status: Any) -> str:
    text = _text(status)
    return "" if text == "created" else text

