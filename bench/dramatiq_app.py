"""The benchmark's Dramatiq project: the same no-op actor on a RedisBroker (settings: bench/README.md).

Results are stored through Dramatiq's own ``Results`` middleware and its Redis backend when
``BENCH_RESULTS=stored``; with ``ignored`` the middleware is not installed at all, which is how a
Dramatiq user who never reads results runs it.
"""

import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import GroupCallbacks
from dramatiq.rate_limits.backends import RedisBackend as RateLimiterBackend
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

from .appenv import REDIS_URL, STORE_RESULTS
from .flaky import fail_first_runs
from .stamps import stamp
from .steps import run_step

broker = RedisBroker(url=REDIS_URL)
result_backend = RedisBackend(url=REDIS_URL) if STORE_RESULTS else None
if result_backend is not None:
    broker.add_middleware(Results(backend=result_backend))
    # a group's completion callback (the workflows scenario's chord) counts members in a rate-limiter backend
    broker.add_middleware(GroupCallbacks(RateLimiterBackend(url=REDIS_URL)))
dramatiq.set_broker(broker)

QUEUE = "default"


# store_results is an option of the Results middleware: Dramatiq refuses it when none is installed
RESULT_OPTIONS = {"store_results": True} if STORE_RESULTS else {}


@dramatiq.actor(actor_name="bench_noop", queue_name=QUEUE, max_retries=0, **RESULT_OPTIONS)
def noop(data):
    started_at = time.time()
    stamp(data, started_at)
    return None


# retries scenario: Dramatiq retries through its delay queue with a backoff of at least min_backoff
# (ms, with jitter); 1 ms is the shortest it takes, so the retry path itself is measured
@dramatiq.actor(actor_name="bench_flaky", queue_name=QUEUE, max_retries=2, min_backoff=1, max_backoff=1,
                **RESULT_OPTIONS)
def flaky(data):
    started_at = time.time()
    fail_first_runs(data)
    stamp(data, started_at)
    return None


# workflows scenario: pipelines pass a node's result on without a result backend; a group's completion
# callback (the chord) needs the Results middleware, so it exists with results stored only
@dramatiq.actor(actor_name="bench_step", queue_name=QUEUE, max_retries=0, **RESULT_OPTIONS)
def step(data):
    return run_step(data)
