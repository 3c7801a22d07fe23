"""Which settled fan-in nodes a failure reached the way Celery's chord errbacks are reached.

With the ``fail`` cascade (the Celery front's) a node that failed by itself settles what can no longer run:
the plain steps after it and the fan-in nodes (chord bodies) waiting on it. Celery runs a chord body's
errbacks when one of its header parts failed, also through a chain (a failed step fails the later steps of
its chain, the last of which is the header part), but no further: the ChordError a body gets does not
complete a chord whose header it is in, and a group after a failed step is never started, so the chord
that group heads never gets a failed part. A chord inside a failed chord's body is part of that body, though:
its first tasks, settled as fan-ins of the failed header, pass the failure on to its own body (the front
marks them with a job field). :func:`fan_ins_reached_by_a_failure` gives the settled fan-in nodes whose
errbacks Celery would run.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .store import WorkflowStore

if TYPE_CHECKING:
    from ..app import Taskora


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _indexes(value: Any) -> list[int]:
    return [int(i) for i in _text(value).split(",") if i]


def fan_ins_reached_by_a_failure(app: Taskora, wf_id: str, passes_on: str = "") -> set[int]:
    """Indexes of the settled fan-in nodes of ``wf_id`` with a dep that failed by itself, or that was settled
    because of such a failure through plain (not fan-in) nodes, or through a fan-in node whose job fields have
    ``passes_on``. Empty for a workflow gone or made by TypeScript."""
    raw = WorkflowStore(app.adapter).get_all(wf_id)
    count = int(_text(raw.get("nodeCount")) or 0)
    state = [_text(raw.get(f"n:{i}:state")) for i in range(count)]
    fan_in = [_text(raw.get(f"n:{i}:fanin")) == "1" for i in range(count)]
    passing = [fan_in[i] and _marked(raw.get(f"n:{i}:meta"), passes_on) for i in range(count)]
    deps = [_indexes(raw.get(f"n:{i}:deps")) for i in range(count)]
    fan_out = [len(_indexes(raw.get(f"n:{i}:next"))) > 1 for i in range(count)]
    carries: dict[int, bool] = {}

    def carries_failure(i: int) -> bool:
        """The node failed by itself, or was settled as the next chain step of one that carries, or is a marked
        fan-in settled by one that carries."""
        if i not in carries:
            settled = state[i] == "cancelled"
            carries[i] = state[i] == "failed" or (settled and passing[i] and any(map(carries_failure, deps[i]))) or (
                settled and not fan_in[i] and any(carries_failure(d) and not fan_out[d] for d in deps[i]))
        return carries[i]

    for i in range(count):  # deps come before their dependents, so each look is one level deep
        carries_failure(i)
    return {i for i in range(count) if fan_in[i] and state[i] == "cancelled" and any(carries[d] for d in deps[i])}


def _marked(meta: Any, field: str) -> bool:
    """The node's job fields (in its ``meta`` JSON) have ``field``."""
    if not field or not meta:
        return False
    return field in (json.loads(_text(meta)).get("fields") or {})
