"""The benchmark's Huey project: a RedisHuey and the same no-op task (settings: bench/README.md).

``blocking=True`` (Huey's default) dequeues with BRPOP; ``notify_result=True`` lets a caller wait
for a result with BLPOP instead of polling. Huey stores no result for a task returning ``None``
unless ``store_none=True``, so the stored configuration sets it (the no-op returns ``None``).
"""

import time

from huey import RedisHuey

from .appenv import REDIS_URL, STORE_RESULTS
from .flaky import fail_first_runs
from .stamps import stamp
from .steps import run_step

huey = RedisHuey("bench", url=REDIS_URL, results=STORE_RESULTS, store_none=STORE_RESULTS,
                 blocking=True, notify_result=True)


@huey.task(name="bench-noop")
def noop(data):
    started_at = time.time()
    stamp(data, started_at)
    return None


# retries scenario: two immediate retries (retry_delay 0 re-enqueues at once)
@huey.task(name="bench-flaky", retries=2, retry_delay=0)
def flaky(data):
    started_at = time.time()
    fail_first_runs(data)
    stamp(data, started_at)
    return None


# workflows scenario: Huey passes a tuple result on as positional arguments (a dict would become keyword
# arguments of the next node), so the node returns its successor's payload in a one-item tuple
@huey.task(name="bench-step")
def step(data):
    return (run_step(data),)
