"""Which settled fan-in nodes a failure reached the way Celery's chord errbacks are reached.

With the ``fail`` cascade (the Celery front's) a node that failed by itself settles what can no longer run:
the plain steps after it and the fan-in nodes (chord bodies) waiting on it. Celery runs a chord body's
errbacks when one of its header parts failed, also through a chain (a failed step fails the later steps of
its chain, the last of which is the header part), but no further: the ChordError a body gets does not
complete a chord whose header it is in, and a group after a failed step is never started, so the chord
that group heads never gets a failed part. :func:`fan_ins_reached_by_a_failure` gives the settled fan-in
nodes whose errbacks Celery would run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .store import WorkflowStore

if TYPE_CHECKING:
    from ..app import Taskora


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _indexes(value: Any) -> list[int]:
    return [int(i) for i in _text(value).split(",") if i]


def fan_ins_reached_by_a_failure(app: Taskora, wf_id: str) -> set[int]:
    """Indexes of the settled fan-in nodes of ``wf_id`` with a dep that failed by itself, or that was settled
    because of such a failure through plain (not fan-in) nodes. Empty for a workflow gone or made by TypeScript."""
    raw = WorkflowStore(app.adapter).get_all(wf_id)
    count = int(_text(raw.get("nodeCount")) or 0)
    state = [_text(raw.get(f"n:{i}:state")) for i in range(count)]
    fanin = [_text(raw.get(f"n:{i}:fanin")) == "1" for i in range(count)]
    deps = [_indexes(raw.get(f"n:{i}:deps")) for i in range(count)]
    fan_out = [len(_indexes(raw.get(f"n:{i}:next"))) > 1 for i in range(count)]
    carries: dict[int, bool] = {}

    def carries_failure(i: int) -> bool:
        """The node failed by itself, or is a plain node settled as the next chain step of one that carries."""
        if i not in carries:
            settled_plain = state[i] == "cancelled" and not fanin[i]
            carries[i] = state[i] == "failed" or (
                settled_plain and any(carries_failure(d) and not fan_out[d] for d in deps[i]))
        return carries[i]

    for i in range(count):  # deps come before their dependents, so each look is one level deep
        carries_failure(i)
    return {i for i in range(count) if fanin[i] and state[i] == "cancelled" and any(carries[d] for d in deps[i])}
