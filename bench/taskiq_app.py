"""The benchmark's Taskiq project: a ``ListQueueBroker`` (taskiq-redis) and the same no-op task.

With ``BENCH_RESULTS=stored`` the broker gets taskiq-redis's ``RedisAsyncResultBackend`` (results
kept an hour); with ``ignored`` it keeps Taskiq's default, a result backend that stores nothing.
The task is a coroutine: Taskiq runs a plain function in a thread pool, an ``async def`` on its
event loop, and its users write tasks as coroutines (settings and why: bench/README.md).
"""

import time

from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

from .appenv import REDIS_URL, STORE_RESULTS
from .stamps import stamp

QUEUE = "bench"

broker = ListQueueBroker(url=REDIS_URL, queue_name=QUEUE)
if STORE_RESULTS:
    broker = broker.with_result_backend(RedisAsyncResultBackend(redis_url=REDIS_URL, result_ex_time=3600))


@broker.task(task_name="bench-noop")
async def noop(data):
    started_at = time.time()
    stamp(data, started_at)
    return None
