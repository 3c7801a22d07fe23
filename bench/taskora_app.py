"""The benchmark's native taskora project: the same no-op task as bench/celery_app.py.

Kept as close as possible to the Celery app (same task name, same handler body, same Redis URL
variable) so that the only difference measured is the library. taskora's defaults are used as they
are; see bench/README.md.
"""

import time

from taskora import Taskora

from .appenv import REDIS_URL, STORE_RESULTS
from .flaky import fail_first_runs
from .stamps import stamp
from .steps import run_step

app = Taskora(REDIS_URL)


@app.task("bench-noop", keep_result=STORE_RESULTS)  # BENCH_RESULTS=stored|ignored
def noop(data):
    started_at = time.time()
    stamp(data, started_at)
    return None


# retries scenario: two immediate retries (no backoff), so the retry path itself is measured
@app.task("bench-flaky", keep_result=STORE_RESULTS, retry={"attempts": 3, "backoff": "fixed", "delay": 0})
def flaky(data):
    started_at = time.time()
    fail_first_runs(data)
    stamp(data, started_at)
    return None


# workflows scenario: a node passes its successor's payload on (results kept: a workflow carries them)
@app.task("bench-step")
def step(data):
    return run_step(data)
