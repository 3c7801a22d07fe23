"""The ``fail`` cascade (Celery's, set by taskora.compat): a failed node settles only what can never run.

Native workflows cancel every open node at the first failure, as the TypeScript taskora does; a workflow
dispatched with ``cascade="fail"`` lets independent nodes run to their end, settles a node that depends on
a failed one once all of its deps have ended, and ends failed, with the first failure's error, when every
node has ended. Both engines (the ``make_app`` fixture).
"""

from __future__ import annotations

import threading

import pytest

from taskora import JobFailedError, chain, chord, group
from taskora.workflow.dispatch import dispatch_workflow
from tests.waiting import wait_until

FAST = {"stall": {"interval": 1}}


@pytest.fixture
def gated(make_app):
    """An app with ``boom`` (fails), ``slow`` (returns once ``release`` is set) and ``total``/``ident``."""
    app = make_app()
    release = threading.Event()

    def boom(d):
        raise ValueError(f"boom {d}")

    app.task("boom", boom, **FAST)
    app.task("slow", lambda d: release.wait(10) and d, **FAST)
    app.task("total", lambda xs: sum(xs), **FAST)
    app.task("ident", lambda v: v, **FAST)
    app.release = release  # type: ignore[attr-defined]
    yield app
    release.set()


def _states(handle) -> list[str]:
    return [n["state"] for n in handle.nodes()]


def _chord(app):
    boom, slow, total = (app.get_task(n) for n in ("boom", "slow", "total"))
    return chord([boom.s(1), slow.s(5)], total.s())


def test_native_cascade_cancels_the_failed_nodes_siblings(gated) -> None:
    handle = _chord(gated).dispatch()
    gated.start()
    with pytest.raises(JobFailedError, match="boom 1"):
        handle.result(timeout=10)
    assert _states(handle) == ["failed", "cancelled", "cancelled"]


def test_fail_cascade_lets_a_sibling_run_to_its_end_then_settles_the_body(gated) -> None:
    handle = dispatch_workflow(_chord(gated), cascade="fail")
    gated.start()
    wait_until(lambda: _states(handle)[0] == "failed", what="the failing header member")
    assert handle.state() == "running"
    assert _states(handle)[1:] == ["waiting", "pending"]  # the sibling still runs, the body waits for it
    gated.release.set()
    with pytest.raises(JobFailedError, match="boom 1"):
        handle.result(timeout=10)
    assert _states(handle) == ["failed", "completed", "cancelled"]
    slow_job = handle.job_ids()[1]
    assert gated.handle("slow", slow_job).result(timeout=5) == 5
    body = gated.handle("total", handle.job_ids()[2])
    assert body.state() == "failed"
    with pytest.raises(JobFailedError, match=f"Dependency {handle.job_ids()[0]} raised ValueError: boom 1"):
        body.result(timeout=5)


def test_fail_cascade_runs_every_failing_member_and_keeps_the_first_error(gated) -> None:
    boom, ident, total = (gated.get_task(n) for n in ("boom", "ident", "total"))
    handle = dispatch_workflow(chord([boom.s(1), ident.s(2), boom.s(3)], total.s()), cascade="fail")
    failed: list[dict] = []
    gated.on("workflow:failed", lambda event: failed.append(dict(event.extra)))
    gated.start()
    with pytest.raises(JobFailedError):
        handle.result(timeout=10)
    assert _states(handle) == ["failed", "completed", "failed", "cancelled"]
    third = gated.handle("boom", handle.job_ids()[2])
    wait_until(lambda: third.state() == "failed", what="the second failing member's own end")
    wait_until(lambda: failed, what="the workflow:failed event")
    settled = [n for event in failed for n in event["settled"]]
    assert [n["index"] for n in settled] == [3]  # the body, settled once
    assert [event["ended"] for event in failed] == [True]


def test_fail_cascade_settles_a_chain_after_a_failure_at_once_and_spares_independent_branches(gated) -> None:
    boom, slow, ident = (gated.get_task(n) for n in ("boom", "slow", "ident"))
    flow = group(chain(boom.s(1), ident.s(), ident.s()), slow.s(7))
    handle = dispatch_workflow(flow, cascade="fail")
    gated.start()
    wait_until(lambda: _states(handle)[:3] == ["failed", "cancelled", "cancelled"], what="the chain's settling")
    assert handle.state() == "running"
    last = gated.handle("ident", handle.job_ids()[2])
    wait_until(lambda: last.state() == "failed", what="the chain's last step's job settled")
    gated.release.set()
    with pytest.raises(JobFailedError, match="boom 1"):
        handle.result(timeout=10)
    assert _states(handle) == ["failed", "cancelled", "cancelled", "completed"]
