"""Dispatch-time flow control: debounce, throttle and deduplicate, each one engine script
(lua/debounce.lua, lua/throttle.lua, lua/deduplicate.lua) that decides and writes atomically.

Keys are TypeScript taskora's (wire v6): ``<task prefix>debounce:<key>``, ``<task prefix>throttle:<key>``
and ``<task prefix>dedup:<key>``, all under the task's hash tag; a deduplicated job names its key in the
job hash field ``dedupKey``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
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
        """Enqueue ``req`` under ``flow`` in one script call; see ``FlowOutcome``.

        The hot path of every flow-controlled dispatch: the argument list is built in one go, and a created
        job's outcome is a shared constant (``FlowOutcome`` is frozen).
        """
        self.ensure_handshake()  # a producer's first write may be a flow-controlled one
        prefix = self.keys.task_prefix(req.task)
        key = f"{prefix}{KEY_SEGMENTS[flow.kind]}:{flow.key}"
        keys = self.keys.queue(req.task)
        if flow.kind == "deduplicate":
            reply = self.scripts.deduplicate(self.runner, keys, _dedup_args(prefix, self.now_ms(), key, flow, req))
            return _CREATED if reply == 1 else FlowOutcome(False, _text(reply[0]), _text(reply[1]) or None)
        if flow.kind == "throttle":
            status = self.scripts.throttle(self.runner, keys, [
                prefix, self.now_ms(), key, f"{prefix}throttleEnds:{flow.key}", flow.max, flow.window_ms,
                *DispatchOps._job_record(req)])
            return _CREATED if status in _CREATED_REPLY else FlowOutcome(False, _text(status))
        status, replaced = self.scripts.debounce(self.runner, keys, [
            prefix, self.now_ms(), key, *DispatchOps._job_record(req)])
        if status in _CREATED_REPLY:
            return FlowOutcome(True, "", replaced_id=_text(replaced)) if replaced else _CREATED
        return FlowOutcome(False, _text(status))

    def enqueue_many_deduplicated(self, requests: Sequence[EnqueueRequest],
                                  flows: Sequence[FlowRequest | None]) -> list[FlowOutcome]:  # fmt: skip
        """Enqueue a batch of one task's jobs in one script call (lua/deduplicate_many.lua), each under its
        ``deduplicate`` request or none; one outcome per request, in order, as ``enqueue_flow`` gives."""
        if not requests:
            return []
        self.ensure_handshake()
        prefix = self.keys.task_prefix(requests[0].task)
        args: list[Any] = [prefix, self.now_ms()]
        for req, flow in zip(requests, flows, strict=True):
            record = DispatchOps._job_record(req)
            if flow is None:
                args += ("", "", *record)
                continue
            key = f"{prefix}dedup:{flow.key}"
            record[7] += 2  # the job names its dedup key (one more extra field pair)
            args += (key, _states_arg(flow.states), *record, "dedupKey", key)
        reply = self.scripts.deduplicate_many(self.runner, self.keys.queue(requests[0].task), args)
        return [_CREATED if status in _CREATED_REPLY else FlowOutcome(False, _text(status), _text(holder) or None)
                for status, holder in zip(reply[::2], reply[1::2], strict=True)]

    def declare_singleton(self, task: str, singleton: bool) -> None:
        """Record whether this worker's ``task`` is ``singleton=True`` (the string ``<task prefix>singleton``):
        the claim script then starts no job of the task while one is active, whoever produced the job."""
        key = f"{self.keys.task_prefix(task)}singleton"
        if singleton:
            self.client.set(key, "1")
        else:
            self.client.delete(key)


#: A script's reply for a created job (bytes from Redis, str from a decoding client).
_CREATED_REPLY = (b"created", "created")
_CREATED = FlowOutcome(True)


def _dedup_args(prefix: str, now: int, key: str, flow: FlowRequest, req: EnqueueRequest) -> list[Any]:
    """ARGV of lua/deduplicate.lua: the job record (lib/enqueue.lua) ends with one more extra field pair,
    the job naming its dedup key (``dedupKey``)."""
    record = DispatchOps._job_record(req)
    record[7] += 2
    return [prefix, now, key, _states_arg(flow.states), *record, "dedupKey", key]


@lru_cache(maxsize=16)
def _states_arg(states: tuple[str, ...]) -> str:
    """ARGV of deduplicate.lua: the blocking states, comma-separated (the same few tuples every time)."""
    return ",".join(states)
