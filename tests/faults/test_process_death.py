"""A job whose handler kills its process: each death is a failed attempt, bounded by the retry policy;
jobs the dying process had only claimed run normally, never charged."""

from __future__ import annotations

import pytest

from taskora import JobFailedError, Taskora

from ..waiting import wait_until


@pytest.mark.parametrize("how, died", [("abort", "signal 6"), ("segfault", "signal 11"), ("exit0", "exit code 0")])
def test_a_poison_job_in_prefork_fails_after_its_attempts(client: Taskora, start_worker, runs, how: str,
                                                         died: str) -> None:  # fmt: skip
    # Given a prefork worker and a job that kills the child running it, every time
    worker = start_worker("-P", "prefork", "-c", "2")
    handle = client.dispatch("poison", {"how": how})
    # Then each death is an attempt: after its three attempts the job fails, saying how its process died
    with pytest.raises(JobFailedError) as failed:
        handle.result(timeout=30)
    assert failed.value.error == f"worker process died ({died}) while running this job"
    assert [r.split(":")[1] for r in runs(handle.id)] == ["1", "2", "3"]
    wait_until(lambda: f"Task poison[{handle.id}] attempt 3 failed: WorkerLostError" in worker.log(),
               what="the supervisor to log the failure")
    # and the worker still serves other jobs
    assert client.dispatch("innocent", None).result(timeout=15) > 0


def test_jobs_claimed_ahead_by_a_dying_child_run_once_and_are_never_charged(client: Taskora, start_worker,
                                                                            runs) -> None:  # fmt: skip
    # Given one child with one slot, and a backlog of short jobs around poison ones of the same task: after
    # short jobs the slot claims the next job ahead, so a poison job kills a child that holds another one
    def dispatch(how: str, n: int) -> list:
        return [client.dispatch("poison", {"how": how}) for _ in range(n)]

    handles = dispatch("none", 20)
    poisons = dispatch("abort", 2)
    handles += dispatch("none", 20)
    start_worker("-P", "prefork", "-c", "1")
    # Then every poison job fails after its attempts; every other job ran exactly once, at its first attempt
    for poison in poisons:
        with pytest.raises(JobFailedError, match="WorkerLostError: worker process died"):
            poison.result(timeout=30)
        assert len(runs(poison.id)) == 3
    for handle in handles:
        assert handle.result(timeout=30) == "survived"
        assert [r.split(":")[1] for r in runs(handle.id)] == ["1"]
        assert client.adapter.get_job("poison", handle.id)["attempt"] == "1"


def test_a_job_running_beside_a_poison_job_is_handed_back_not_charged(client: Taskora, start_worker,
                                                                     runs) -> None:  # fmt: skip
    # Given a child that runs both tasks at once (a slot each): when a poison job kills it, the job running
    # beside it may have been the killer too, so it is counted as lost rather than charged an attempt
    handles = [client.dispatch("innocent", None) for _ in range(20)]
    poisons = [client.dispatch("poison", {"how": "abort"}) for _ in range(2)]
    handles += [client.dispatch("innocent", None) for _ in range(20)]
    start_worker("-P", "prefork", "-c", "1")
    for poison in poisons:
        with pytest.raises(JobFailedError, match="WorkerLostError"):
            poison.result(timeout=60)
    for handle in handles:
        assert handle.result(timeout=30) > 0
        job = client.adapter.get_job("innocent", handle.id)
        assert job["attempt"] == "1" and "error" not in job, job
        assert {r.split(":")[1] for r in runs(handle.id)} == {"1"}


def test_a_poison_job_is_quarantined_after_killing_the_jobs_beside_it(client: Taskora, start_worker,
                                                                     runs) -> None:  # fmt: skip
    # Given slow jobs that keep the child's other slot busy, and one poison job among them
    slow = [client.dispatch("innocent", {"seconds": 0.4}) for _ in range(8)]
    poison = client.dispatch("poison", {"how": "abort"})
    start_worker("-P", "prefork", "-c", "1")
    # Then the poison job's first death, beside a slow job, is counted as lost for both; from then on it runs
    # alone in its child, so each later death is its own failed attempt, and the slow jobs are not hit again
    with pytest.raises(JobFailedError, match=r"WorkerLostError: worker process died \(signal 6\)"):
        poison.result(timeout=60)
    job = client.adapter.get_job("poison", poison.id)
    assert (job["attempt"], job.get("lostCount", "0")) in {("3", "1"), ("3", "0")}, job
    assert [r.split(":")[1] for r in runs(poison.id)][-3:] == ["1", "2", "3"]
    lost = [int(client.adapter.get_job("innocent", h.id).get("lostCount", "0")) for h in slow if h.result(timeout=30)]
    assert sum(lost) <= 1 and max(lost) <= 1, lost


@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_sys_exit_in_a_handler_fails_the_attempt_and_the_worker_carries_on(client: Taskora, start_worker, runs,
                                                                         pool: str) -> None:  # fmt: skip
    worker = start_worker("-P", pool, "-c", "2")
    handle = client.dispatch("poison", {"how": "sysexit"})
    with pytest.raises(JobFailedError) as failed:
        handle.result(timeout=30)
    assert failed.value.error == (f"poison job {handle.id}: the handler called sys.exit(3); the "
                                  "attempt ends here, the worker carries on")
    assert len(runs(handle.id)) == 3
    assert client.dispatch("innocent", None).result(timeout=15) > 0
    assert worker.proc.poll() is None


def test_a_task_redelivered_until_done_is_handed_back_after_each_death(client: Taskora, start_worker,
                                                                      runs) -> None:  # fmt: skip
    # Given a task with stall.max_lost=None (what Celery's acks_late + reject_on_worker_lost map to)
    start_worker("-P", "prefork", "-c", "1")
    handle = client.dispatch("durable", {"how": "segfault", "until_run": 4})
    # Then each death hands it back uncharged, until a run completes
    assert handle.result(timeout=30) == "done"
    job = client.adapter.get_job("durable", handle.id)
    assert (job["attempt"], job["lostCount"], len(runs(handle.id))) == ("1", "3", 4)
