"""Recorded conformance, worker side: restore the state the TypeScript taskora left just before its
worker ran (tests/fixtures/interop/), run a Python worker instead, and compare the end state with
TypeScript's own end state (ids literally; times, the recording's ``volatile`` places, never).

The allowed differences are listed per scenario and explained in docs/guide/interop.md."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from taskora import Taskora

from ..waiting import wait_until
from .recording import Allowed, Recording, ReplayClock, assert_same_state, dump, latest_time, load, restore

#: What a Python worker writes beyond TypeScript (docs/guide/interop.md): its liveness keys, metrics
#: counters (engineer "observe" adds TypeScript's, compared there); a completed event's result, a failed
#: event's error, a retrying event's failure time; a failed job's errorDetail (type, traceback), failedAt
#: and nextAttemptAt; the ``wake:<n>`` marker members a stopping worker wakes its blocked claimers with.
#: The marker as a whole is a wake-up signal: whether one is left depends on whether a worker was blocked
#: on it when it was set, so it is not compared.
PYTHON_WORKER = Allowed(keys=(r":alive:", r":metrics:", r":marker$"),
                        fields=("errorDetail", "failedAt", "nextAttemptAt"),
                        event_fields=("result", "error", "failedAt"), members=(r"wake:\d+",))


@dataclass
class Scenario:
    """A recording replayed on a Python worker."""

    name: str
    start: str  # "before" or a snapshot label: the state the Python worker starts from
    tasks: dict[str, Callable[..., Any]]
    task_options: dict[str, Any] = field(default_factory=dict)
    app_options: dict[str, Any] = field(default_factory=dict)
    allow: Allowed = Allowed()  # differences of this scenario only
    replay_clock: bool = False  # run at the recording's time (ages matter: retention)
    then: Callable[[Taskora, Recording], None] | None = None  # what the driver did once the state was there


def _kaboom(data: Any, ctx: Any) -> Any:
    raise Exception(f"kaboom attempt {ctx.attempt}")


def _progress_and_logs(data: Any, ctx: Any) -> Any:
    ctx.progress(50)
    ctx.log.info("halfway", k=1)
    ctx.log.warn("careful")
    ctx.progress({"done": True, "pct": 100})
    ctx.log.error("oops-but-fine")
    return {"ok": True}


def _always_fails(data: Any) -> Any:
    raise Exception("always")


def _retry_dead_letter(app: Taskora, rec: Recording) -> None:
    assert app.dead_letters.retry(rec.output("jobId"), task="flaky")


def _cancel(app: Taskora, rec: Recording) -> None:
    app.tasks["slow"].handle(rec.output("jobId")).cancel("user-cancel")


def _lock_expired(app: Taskora, rec: Recording) -> None:
    """The killed TypeScript worker's lock runs out (30 s in the recording; here at once)."""
    app.adapter.client.delete(rec.key("{slow}:" + rec.output("jobId") + ":lock"))


SCENARIOS = [
    Scenario("02-dispatch", "dispatched", {"add": lambda d: d["x"] + d["y"]}),
    Scenario("04-delayed", "dispatched", {"later": lambda d: {"lagMs": 47}},
             allow=Allowed(fields=("result",))),  # TypeScript's handler returned its measured lag
    Scenario("05-fail-retry", "dispatched", {"boom": _kaboom},
             task_options={"retry": {"attempts": 3, "backoff": "exponential", "delay": 0.4, "jitter": False}}),
    Scenario("06-dlq-retry", "before", {"flaky": lambda d: {"ok": True, "run": 2, "attempt": 1}},
             then=_retry_dead_letter, allow=Allowed(event_fields=("reason",))),  # waiting {reason: retried}
    Scenario("07-cancel", "before", {"slow": lambda d: d}, then=_cancel,
             allow=Allowed(fields=("cancelledAt",))),  # we record when a waiting job was cancelled too
    Scenario("09-progress", "before", {"prog": _progress_and_logs}),
    Scenario("10-stall", "after-kill", {"slow": lambda d: "recovered-by-B"},
             task_options={"stall": {"interval": 2, "max_count": 1}}, then=_lock_expired),
    Scenario("11-ttl", "before", {"ttlt": lambda d: d}),
    Scenario("21-retention", "processed-before-trim", {"ok": lambda d: d, "bad": _always_fails},
             task_options={"stall": {"interval": 1}},
             app_options={"retention": {"completed": {"max_items": 2, "max_age": "1h"},
                                        "failed": {"max_items": 1, "max_age": "7d"}}}, replay_clock=True),
]


def _final_states(rec: Recording) -> dict[str, str]:
    """Job hash key -> the state it has in TypeScript's end state."""
    return {k: e["value"]["state"] for k, e in rec.after.items()
            if e["type"] == "hash" and "state" in e["value"] and ":wf:" not in k}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_a_python_worker_ends_where_typescript_ended(prefixed_app, scenario: Scenario) -> None:
    rec = load(scenario.name.split("-")[0])
    start = rec.before if scenario.start == "before" else rec.snapshot(scenario.start)
    clock = ReplayClock(latest_time(start, rec.volatile)) if scenario.replay_clock else None
    app: Taskora = prefixed_app(rec.prefix, clock=clock, **scenario.app_options)
    for name, fn in scenario.tasks.items():
        app.task(name, fn, **scenario.task_options)
    restore(app.adapter.client, start)
    if scenario.then is not None:
        scenario.then(app, rec)
    app.start()

    wait_until(lambda: _settled(app, rec, start, list(scenario.tasks)), what=f"{rec.name} to end as TypeScript's")
    app.close(timeout=5)

    assert_same_state(dump(app.adapter.client, rec.prefix), rec.after, rec.volatile,
                      allow=PYTHON_WORKER + scenario.allow)


def _settled(app: Taskora, rec: Recording, start: dict[str, Any], tasks: list[str]) -> bool:
    """Every job reached its recorded final state, no job is active, and every key TypeScript removed
    is gone (a retention trim)."""
    client = app.adapter.client
    if any(client.hget(k, "state") != v.encode() for k, v in _final_states(rec).items()):
        return False
    if any(client.llen(app.adapter.keys.queue(t)[2]) for t in tasks):
        return False
    removed = [k for k in start if k not in rec.after]
    return not any(client.exists(k) for k in removed)
