"""An immediate retry costs one script call and no wait (ClaimsAhead.fail_ahead), on both engines.

A slot that holds its next job claimed ahead sends a retried attempt's ``fail`` fused with one more claim
and runs the job it holds while Redis works, as it does for a completion (``ack_later``). These tests pin
that the retry goes out that way, that its job is claimable by that very call, and that a lost reply is
sent again without running any handler twice.
"""

from __future__ import annotations

from typing import Any

from taskora import Taskora
from taskora.worker.loop import Worker
from tests.worker.test_lookahead import _ReplyNeverCame


class FailsOnce:
    """A task whose jobs fail their first run and succeed on the second, retried at once."""

    def __init__(self, app: Taskora, name: str, count: int) -> None:
        self.runs: list[int] = []
        self.task = app.task(name, self._handler, retry={"attempts": 2, "backoff": "fixed", "delay": 0})
        self.handles = self.task.dispatch_many([{"i": i} for i in range(count)])

    def _handler(self, data: dict[str, int]) -> None:
        self.runs.append(data["i"])
        if self.runs.count(data["i"]) == 1:
            raise ValueError(f"first run of {data['i']}")


def _count_calls(app: Taskora, name: str, calls: list[str]) -> None:
    real = getattr(app.adapter, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    setattr(app.adapter, name, counted)


def _drain(app: Taskora, jobs: FailsOnce) -> None:
    worker = Worker(app, [jobs.task], concurrency=1)
    worker.start()
    try:
        assert [h.result(timeout=30) for h in jobs.handles] == [None] * len(jobs.handles)
    finally:
        worker.stop(timeout=10)


def test_a_retried_run_goes_out_with_the_next_claim_while_the_slot_runs_the_job_it_holds(app: Taskora) -> None:
    jobs = FailsOnce(app, "fails-once", 60)
    calls: list[str] = []
    _count_calls(app, "fail", calls)
    _count_calls(app, "fail_later", calls)
    _drain(app, jobs)
    assert sorted(jobs.runs) == sorted(list(range(60)) * 2)
    assert calls.count("fail") + calls.count("fail_later") == 60
    assert calls.count("fail_later") > 30, "most retries of a busy slot should not wait for their reply"
    assert app.adapter.counts("fails-once")["active"] == 0


def test_a_retry_with_no_delay_is_claimed_by_the_call_that_records_it(app: Taskora) -> None:
    task = app.task("retried-at-once", lambda d: None, retry={"attempts": 3, "delay": 0})
    handle = task.dispatch({"i": 1})
    job = app.adapter.claim("retried-at-once", "token-1", 30_000).job
    assert job is not None and job.id == handle.id
    sent = app.adapter.fail_later(job, "boom", retry_delay_ms=0, detail="", retry_data=None,
                                  next_token="token-2", lock_ttl_ms=30_000)
    result = sent.result()
    assert result.status == "retrying"
    assert result.job is not None and result.job.id == handle.id and result.job.fields["attempt"] == "2"
    assert app.adapter.counts("retried-at-once")["active"] == 1


def test_a_retry_whose_reply_is_lost_is_recorded_again_and_no_handler_runs_twice(app: Taskora) -> None:
    jobs = FailsOnce(app, "lost-retry", 40)
    real_fail_later = app.adapter.fail_later
    lost: list[str] = []

    def fail_later(job: Any, *args: Any, **kwargs: Any) -> Any:
        if len(lost) < 5:  # the first few retries sent ahead never reach Redis
            lost.append(job.id)
            return _ReplyNeverCame(job.task, kwargs["next_token"])
        return real_fail_later(job, *args, **kwargs)

    app.adapter.fail_later = fail_later  # type: ignore[method-assign]
    _drain(app, jobs)
    assert len(lost) == 5
    assert sorted(jobs.runs) == sorted(list(range(40)) * 2)
    assert app.adapter.counts("lost-retry")["active"] == 0
