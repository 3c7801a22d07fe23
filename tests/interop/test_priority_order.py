"""Claim order on a shared Redis (recording 03-priority-claim-order).

The TypeScript worker drains ``wait`` (priority 0) before ``prioritized``; ours takes ``prioritized``
first, which is what both projects document ("priority desc, timestamp asc"). The two therefore agree
exactly when no waiting job has priority 0: every task dispatching with a priority of at least 1 (the
task option ``priority=1``) or none using priorities at all. docs/guide/interop.md explains the choice."""

from __future__ import annotations

import threading

from taskora import Taskora

from ..waiting import wait_until
from .recording import load, restore

TS_ORDER = ["a", "e", "c", "f", "b", "g", "d"]  # what the recording's TypeScript worker ran
PYTHON_ORDER = ["c", "f", "b", "g", "d", "a", "e"]  # priority desc, then oldest first


def _recording_task(app: Taskora, **options) -> list[str]:
    """Register task ``prio`` (one slot); the returned list fills with the labels in the order it runs them."""
    seen: list[str] = []
    lock = threading.Lock()

    def handler(data):
        with lock:
            seen.append(data["label"])
        return data["label"]

    app.task("prio", handler, concurrency=1, **options)
    return seen


def _run(app: Taskora, seen: list[str], count: int) -> list[str]:
    app.start()
    wait_until(lambda: len(seen) == count, what=f"{count} jobs to run")
    return seen


def test_a_python_worker_runs_typescripts_queue_in_priority_order(prefixed_app) -> None:
    rec = load("03-priority")
    app: Taskora = prefixed_app(rec.prefix)
    seen = _recording_task(app)
    restore(app.adapter.client, rec.snapshot("enqueued"))

    assert rec.output("runOrder") == TS_ORDER
    assert _run(app, seen, 7) == PYTHON_ORDER


def _typescript_claim_order(app: Taskora, task: str) -> list[str]:
    """The order a TypeScript worker claims waiting jobs in: RPOP ``wait`` until empty, then ZPOPMIN
    ``prioritized`` (recording 03), read without claiming."""
    client = app.adapter.client
    wait, prioritized = app.adapter.keys.queue(task)[:2]
    ids = [i.decode() for i in reversed(client.lrange(wait, 0, -1))]
    ids += [i.decode() for i in client.zrange(prioritized, 0, -1)]
    return [client.hget(app.adapter.keys.job(task, i), "data").decode() for i in ids]


def _next_ms(app: Taskora) -> None:
    """Let the clock move on by a millisecond: the ``prioritized`` score keeps ms, so two jobs of one
    priority dispatched within the same ms would be ordered by id."""
    now = app.adapter.now_ms()
    wait_until(lambda: app.adapter.now_ms() > now, what="the next millisecond")


def test_with_every_priority_at_least_1_both_sides_claim_alike(prefixed_app) -> None:
    app: Taskora = prefixed_app("agree")
    seen = _recording_task(app, priority=1)
    prio = app.tasks["prio"]
    for label, priority in [("a", None), ("b", 6), ("c", 11), ("d", 2), ("e", None), ("f", 11), ("g", 6)]:
        prio.dispatch({"label": label}, **({} if priority is None else {"priority": priority}))
        _next_ms(app)  # equal priorities then run oldest first, as in the recording (3 ms apart)

    typescript_order = [f'{{"label":"{x}"}}' for x in PYTHON_ORDER]
    assert _typescript_claim_order(app, "prio") == typescript_order
    assert _run(app, seen, 7) == PYTHON_ORDER
