"""The benchmark's RQ project: one queue and the same no-op function (settings: bench/README.md).

RQ keeps a job's result for ``result_ttl`` seconds (500 by default); ``BENCH_RESULTS=ignored`` sets
it to 0, RQ's documented way not to keep results (the job is deleted once it succeeds).
"""

import time

from redis import Redis
from rq import Queue

from .appenv import REDIS_URL, STORE_RESULTS
from .flaky import fail_first_runs
from .stamps import stamp

QUEUE = "bench"
RESULT_TTL = 500 if STORE_RESULTS else 0

connection = Redis.from_url(REDIS_URL)
queue = Queue(QUEUE, connection=connection)


def noop(data):
    started_at = time.time()
    stamp(data, started_at)
    return None


def flaky(data):
    """The retries scenario's job; RQ takes the retry policy at enqueue (``Retry(max=2)``, no interval)."""
    started_at = time.time()
    fail_first_runs(data)
    stamp(data, started_at)
    return None
