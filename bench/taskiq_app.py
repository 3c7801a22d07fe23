"""The benchmark's Taskiq project: a ``ListQueueBroker`` (taskiq-redis) and the same no-op task.

With ``BENCH_RESULTS=stored`` the broker gets taskiq-redis's ``RedisAsyncResultBackend`` (results
kept an hour); with ``ignored`` it keeps Taskiq's default, a result backend that stores nothing.
The task is a coroutine: Taskiq runs a plain function in a thread pool, an ``async def`` on its
event loop, and its users write tasks as coroutines (settings and why: bench/README.md).
"""

import time

from taskiq.middlewares import SimpleRetryMiddleware
from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

from .appenv import REDIS_URL, STORE_RESULTS
from .flaky import fail_first_runs
from .stamps import stamp

QUEUE = "bench"

# the retries scenario's task asks for retries with its retry_on_error label; the rest never retry
broker = ListQueueBroker(url=REDIS_URL, queue_name=QUEUE).with_middlewares(
    SimpleRetryMiddleware(default_retry_count=3))
if STORE_RESULTS:
    broker = broker.with_result_backend(RedisAsyncResultBackend(redis_url=REDIS_URL, result_ex_time=3600))


@broker.task(task_name="bench-noop")
async def noop(data):
    started_at = time.time()
    stamp(data, started_at)
    return None


# retries scenario: SimpleRetryMiddleware sends a failed message again at once; its max_retries counts
# failures, the last one included, so 3 means two retries
@broker.task(task_name="bench-flaky", retry_on_error=True, max_retries=3)
async def flaky(data):
    started_at = time.time()
    fail_first_runs(data)
    stamp(data, started_at)
    return None
