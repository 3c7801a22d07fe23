"""Per-key concurrency across real ``taskora worker`` processes on a real redis-server: the limit holds
across processes, and the slot of a worker SIGKILLed mid-job comes back through stall recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import redis

from taskora import Taskora
from taskora.redis import redis_adapter
from tests.paths import ROOT
from tests.waiting import wait_until

from ..processes import kill_process_group

TASK, TENANT = "tenant-job", "t1"


def spawn(url: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, TASKORA_TEST_URL=url, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "taskora", "worker", "-A", "tests.flow_claim_proj", "-P", "threads", "-c", "2"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


@pytest.fixture
def workers(redis_url: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [spawn(redis_url) for _ in range(4)]
    yield procs
    for proc in procs:
        kill_process_group(proc)


class ActiveSampler:
    """Samples, from Redis, how many of the task's jobs are active and the key's slot counter."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.active: list[int] = []
        self.counter: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            with self.client.pipeline(transaction=True) as pipe:  # both read at one instant
                pipe.llen(f"taskora:{{{TASK}}}:active").get(f"taskora:{{{TASK}}}:conc:{TENANT}")
                active, slots = pipe.execute()
            self.active.append(active)
            self.counter.append(int(slots or 0))

    def __enter__(self) -> ActiveSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def started(client: redis.Redis) -> list[tuple[int, int]]:
    return [tuple(map(int, entry.decode().split(":"))) for entry in client.lrange("flow:started", 0, -1)]  # type: ignore[misc]


def stalled_ids(client: redis.Redis) -> list[str]:
    events = client.xrange(f"taskora:{{{TASK}}}:events")
    return [f[b"jobId"].decode() for _, f in events if f[b"event"] == b"stalled"]


def test_four_worker_processes_never_run_more_than_the_limit_even_when_one_is_killed(redis_url: str,
                                                                                    workers: list) -> None:
    producer = Taskora(redis_adapter(redis_url))
    # the key is computed where the job is dispatched: the producer declares it as the workers do
    producer.register_task(TASK, None, concurrency_key=lambda data: data["tenant"], concurrency_limit=2)
    client = redis.Redis.from_url(redis_url)
    with ActiveSampler(redis_url) as sampler:
        doomed = producer.dispatch(TASK, {"tenant": TENANT, "n": 0, "hold": 60, "hold_again": 0.2})
        handles = [producer.dispatch(TASK, {"tenant": TENANT, "n": n, "hold": 0.25}) for n in range(1, 25)]
        victim_pid = wait_until(lambda: dict(started(client)).get(0), 30, "the long job to start")
        victim = next(p for p in workers if p.pid == victim_pid)
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and its threads die holding the job's slot
        victim.wait(10)
        wait_until(lambda: doomed.id in stalled_ids(client), 30, "stall recovery of the killed worker's job")
        recovered_at = len(sampler.active)
        assert doomed.result(timeout=30) == 0
        assert [h.result(timeout=60) for h in handles] == list(range(1, 25))
    assert max(sampler.active) == 2 and max(sampler.counter) == 2, (max(sampler.active), max(sampler.counter))
    assert max(sampler.active[recovered_at:]) == 2, "the killed worker's slot never came back"
    assert client.get(f"taskora:{{{TASK}}}:conc:{TENANT}") is None  # every slot freed, as TypeScript leaves it
    producer.close()
