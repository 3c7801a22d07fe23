"""Reading the engine's replies: job hashes, claims, fused finish-and-claims and batches, as value types.

Every adapter module parses what Redis answers through these, so one reply shape has one reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from redis.exceptions import ResponseError

from ..errors import from_engine_reply
from .base import BatchResult, ClaimedJob, ClaimResult
from .direct import InFlight
from .scripts import must_resend

#: Job hash fields that hold serialized payloads; kept as bytes so any serializer round-trips.
PAYLOAD_FIELDS = frozenset({"data", "result", "progress"})


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _pairs(flat: Sequence[Any]) -> dict[Any, Any]:
    pairs = iter(flat)
    return dict(zip(pairs, pairs, strict=False))


#: Field names seen in job hashes, decoded once (the same dozen names come with every claimed job).
_FIELD_NAMES: dict[Any, str] = {}


def decode_job(flat: Sequence[Any]) -> dict[str, Any]:
    """A flat HGETALL reply as a dict: text fields as str, payload fields as bytes."""
    job: dict[str, Any] = {}
    pairs = iter(flat)
    names = _FIELD_NAMES
    for raw_name, value in zip(pairs, pairs, strict=False):  # one per job in a worker: kept to plain bytecode
        name = names.get(raw_name)
        if name is None:
            name = raw_name.decode("utf-8", "replace") if type(raw_name) is bytes else str(raw_name)
            if len(names) < 1024:  # a bounded cache: arbitrary extra fields must not grow it forever
                names[raw_name] = name
        if name in PAYLOAD_FIELDS:
            job[name] = value
        else:
            job[name] = value.decode("utf-8", "replace") if type(value) is bytes else str(value)
    return job


def _claim_reply(task: str, token: str, reply: Sequence[Any]) -> ClaimResult:
    first = _text(reply[0]) if reply else ""
    if first == "":
        due = _text(reply[1]) if len(reply) > 1 else ""
        return ClaimResult(next_due_ms=int(float(due)) if due else None)
    return ClaimResult(job=ClaimedJob(task, first, token, decode_job(reply[2:])), more=reply[1] in (b"1", "1"))


def _finish_reply(task: str, next_token: str | None, reply: Sequence[Any]) -> ClaimResult:
    """A fused finish-and-claim's reply: the finished job's status, then (with a next token) the claim."""
    status = _text(reply[0])
    result = _claim_reply(task, next_token or "", reply[1:]) if next_token else ClaimResult()
    result.status = status
    return result


def _field_values(names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """HMGET's values by name: text, except payloads (kept as bytes for any serializer) and missing ones."""
    return {n: (v if n in PAYLOAD_FIELDS or v is None else _text(v)) for n, v in zip(names, values, strict=True)}


def _head_id(head: Sequence[Any]) -> str:
    """The entry id of an ``XREVRANGE ... COUNT 1`` reply ("0-0" for an empty stream)."""
    return _text(head[0][0]) if head else "0-0"


def _batch_reply(task: str, token: str, n: int, reply: Sequence[Any]) -> BatchResult:
    """ack_many's reply: ``n`` statuses, the next due time, then each claimed job as (size, fields...)."""
    batch = BatchResult(statuses=[_text(s) for s in reply[:n]])
    due = _text(reply[n])
    batch.next_due_ms = int(float(due)) if due else None
    i = n + 1
    while i < len(reply):
        size = int(reply[i])
        claimed = _claim_reply(task, token, reply[i + 1:i + 1 + size]).job
        batch.jobs.append(cast(ClaimedJob, claimed))  # ack_many lists claimed jobs only: never None here
        i += 1 + size
    return batch


class ClaimInFlight:
    """A claim (or a fused finish-and-claim) sent ahead: ``result()`` reads its ClaimResult."""

    def __init__(self, sent: InFlight, resend: Any, task: str, token: str, fused: bool) -> None:
        self._sent, self._resend = sent, resend
        self.task, self.token, self.fused = task, token, fused

    def result(self) -> ClaimResult:
        """The reply; raises a connection error when the connection broke before it was read (then whether
        Redis ran the script is unknown: every script is harmless to run again)."""
        try:
            reply = self._sent.result()
        except ResponseError as exc:
            if not must_resend(exc):
                raise from_engine_reply(str(exc)) from exc
            reply = self._resend()  # it did not run (see must_resend)
        if self.fused:
            return _finish_reply(self.task, self.token, reply)
        return _claim_reply(self.task, self.token, reply)


class BatchInFlight:
    """An ``ack_many`` sent ahead: ``result()`` reads its BatchResult (statuses of the completions it carried,
    the jobs it claimed)."""

    fused = False

    def __init__(self, sent: InFlight, resend: Any, task: str, token: str, completions: int) -> None:
        self._sent, self._resend = sent, resend
        self.task, self.token, self.completions = task, token, completions

    def result(self) -> BatchResult:
        """The reply; a connection error when the connection broke first (ack_many is harmless to run again:
        a completion already recorded reports 'lost')."""
        try:
            reply = self._sent.result()
        except ResponseError as exc:
            if not must_resend(exc):
                raise from_engine_reply(str(exc)) from exc
            reply = self._resend()  # it did not run (see must_resend)
        return _batch_reply(self.task, self.token, self.completions, reply)
