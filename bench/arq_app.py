"""The benchmark's arq project: the same no-op as a coroutine, and its ``WorkerSettings``.

Run as ``python -m bench.arq_app``: the ``arq`` command logs every job at INFO and has no flag to
lower that, so this entry point configures logging at WARNING and then runs arq's own
``run_worker`` (settings and why: bench/README.md).
"""

import logging
import time

from arq import run_worker
from arq.connections import RedisSettings
from arq.worker import Retry, func

from .appenv import REDIS_URL, STORE_RESULTS, concurrency
from .flaky import PlannedFailure, fail_first_runs
from .stamps import stamp

KEEP_RESULT_S = 3600 if STORE_RESULTS else 0


async def noop(ctx, data):
    started_at = time.time()
    stamp(data, started_at)
    return None


async def flaky(ctx, data):
    """The retries scenario's job: arq retries a job that raises ``Retry``; defer 0 re-queues it at once."""
    started_at = time.time()
    try:
        fail_first_runs(data)
    except PlannedFailure as exc:
        raise Retry(defer=0) from exc
    stamp(data, started_at)
    return None


class WorkerSettings:
    functions = [func(noop, name="bench-noop", keep_result=KEEP_RESULT_S, max_tries=1),
                 func(flaky, name="bench-flaky", keep_result=KEEP_RESULT_S, max_tries=3)]
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    max_jobs = concurrency(10)
    poll_delay = 0.001  # seconds between two looks at the queue when it is empty (default 0.5)
    keep_result = KEEP_RESULT_S
    health_check_interval = 3600


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)
