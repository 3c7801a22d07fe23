"""Dispatch and run N jobs on a single Redis and on a 3-master Redis Cluster: jobs/s of each.

Run: PYTHONPATH=. python scripts/bench_topology.py [N]. Starts its own servers (tests/redis_cluster.py).
"""

from __future__ import annotations

import sys
import threading
import time

from taskora import Taskora
from taskora.redis import redis_adapter
from taskora.worker.loop import Worker
from tests.redis_cluster import RedisCluster
from tests.redis_server import RedisServer


def measure(url: str, n: int) -> tuple[float, float]:
    """(dispatches/s one by one, jobs/s run by a 4-slot worker) on the store at ``url``."""
    app = Taskora(redis_adapter(url))
    done = threading.Semaphore(0)
    task = app.task("bench", lambda x: done.release())
    start = time.perf_counter()
    for i in range(n):
        task.dispatch(i)
    dispatched = time.perf_counter() - start
    worker = Worker(app, [task], concurrency=4)
    start = time.perf_counter()
    worker.start()
    for _ in range(n):
        done.acquire()
    ran = time.perf_counter() - start
    worker.stop(timeout=10)
    app.close(timeout=5)
    return n / dispatched, n / ran


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    single, cluster = RedisServer().start(), RedisCluster().start()
    try:
        for name, url in (("single redis (direct connections)", single.url), ("cluster, 3 masters", cluster.url)):
            d, r = measure(url, n)
            print(f"{name}: dispatch {d:,.0f}/s, run {r:,.0f} jobs/s ({n} jobs)")
    finally:
        single.stop()
        cluster.stop()


if __name__ == "__main__":
    main()
