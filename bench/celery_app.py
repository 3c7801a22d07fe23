"""The benchmark's Celery project: one no-op task with the settings a performance-minded user picks.

bench/celery_app.py and bench/compat_app.py are the same file except for the import of ``Celery``
(``celery`` → ``taskora.compat``), which is exactly how a Celery project migrates to taskora; the
harness warns when they drift apart. Each setting is justified in bench/README.md.
"""

import time

from celery import Celery

from .appenv import REDIS_URL, STORE_RESULTS
from .flaky import PlannedFailure, fail_first_runs
from .stamps import stamp
from .steps import run_step

app = Celery("bench", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=False,
    worker_prefetch_multiplier=64,
    worker_disable_rate_limits=True,
    task_track_started=False,
    task_ignore_result=not STORE_RESULTS,  # BENCH_RESULTS=stored|ignored
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench-noop")
def noop(data):
    started_at = time.time()
    stamp(data, started_at)
    return None


# retries scenario: two immediate retries (countdown 0, no backoff), so the retry path itself is measured
@app.task(name="bench-flaky", autoretry_for=(PlannedFailure,), max_retries=2, default_retry_delay=0,
          retry_backoff=False, retry_jitter=False)
def flaky(data):
    started_at = time.time()
    fail_first_runs(data)
    stamp(data, started_at)
    return None


# workflows scenario: a node passes its successor's payload on (results kept: a chord needs them)
@app.task(name="bench-step", ignore_result=False)
def step(data):
    return run_step(data)
