"""The reclaim transition (lua/reclaim.lua) on both engines: a gone worker's job goes back uncharged,
fails only past ``stall.max_lost``, and a job its worker still holds under another token is left alone."""

from __future__ import annotations

import pytest

from taskora import ConfigurationError, Taskora
from taskora.worker.liveness import Liveness


def _claimed_by_a_gone_worker(app: Taskora, task: str) -> str:
    """Dispatch a job and claim it under the token of a worker whose liveness key never existed."""
    handle = app.dispatch(task, None)
    gone = Liveness(app.adapter, "gone@host")
    assert app.adapter.claim(task, gone.new_token(), 30_000).job.id == handle.id
    return handle.id


def _live(app: Taskora, name: str) -> Liveness:
    """A worker's liveness that has beaten: its own key is there, so a missing key means a gone worker."""
    liveness = Liveness(app.adapter, name)
    liveness.beat()
    return liveness


def test_a_gone_workers_job_is_requeued_then_fails_past_max_lost(app: Taskora) -> None:
    task = app.task("t", lambda _: None, stall={"max_lost": 1})
    me = _live(app, "me@host")
    job_id = _claimed_by_a_gone_worker(app, "t")
    assert me.reclaim(task) == [job_id]
    job = app.adapter.get_job("t", job_id)
    assert (job["state"], job["lostCount"], job["attempt"]) == ("waiting", "1", "1")

    assert app.adapter.claim("t", Liveness(app.adapter, "gone2").new_token(), 30_000).job.id == job_id
    assert me.reclaim(task) == [job_id]
    job = app.adapter.get_job("t", job_id)
    assert job["state"] == "failed" and job["error"] == "its worker was lost 2 times (max 1)"


def test_a_live_workers_job_is_left_alone(app: Taskora) -> None:
    task = app.task("t", lambda _: None)
    owner = Liveness(app.adapter, "owner@host")
    owner.beat()
    handle = app.dispatch("t", None)
    app.adapter.claim("t", owner.new_token(), 30_000)
    assert _live(app, "other@host").reclaim(task) == []
    assert app.adapter.get_job("t", handle.id)["state"] == "active"


def test_max_lost_none_redelivers_until_done(app: Taskora) -> None:
    task = app.task("t", lambda _: None, stall={"max_lost": None})
    me = _live(app, "me@host")
    job_id = _claimed_by_a_gone_worker(app, "t")
    for _ in range(30):
        assert me.reclaim(task) == [job_id]
        app.adapter.claim("t", Liveness(app.adapter, "gone").new_token(), 30_000)
    assert app.adapter.get_job("t", job_id)["lostCount"] == "30"


def test_a_reclaimer_without_its_own_key_takes_nothing_until_it_beats(app: Taskora) -> None:
    """A reclaimer whose own key is missing cannot tell a gone worker from keys that are not being kept (a full
    Redis refuses every worker's beat alike): it leaves the job where it is until its own key is there."""
    task = app.task("t", lambda _: None)
    me = Liveness(app.adapter, "me@host")
    job_id = _claimed_by_a_gone_worker(app, "t")
    assert me.reclaim(task) == []
    assert app.adapter.get_job("t", job_id)["state"] == "active"
    me.beat()
    assert me.reclaim(task) == [job_id]


@pytest.mark.parametrize("bad", [-1, "3", True, 1.5])
def test_a_bad_max_lost_is_rejected_naming_it(app: Taskora, bad: object) -> None:
    with pytest.raises(ConfigurationError, match="stall: max_lost must be None or an integer >= 0"):
        app.task("t", lambda _: None, stall={"max_lost": bad})
