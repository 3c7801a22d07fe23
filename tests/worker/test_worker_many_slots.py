"""Many slots in one process: every job runs exactly once (a regression test: with more slot threads
than pooled connections, a failed ack used to re-run the handler)."""

from __future__ import annotations

import threading
from collections import Counter

from taskora import Taskora
from taskora.redis import redis_adapter
from tests.worker.retention import KEEP_EVERY_RESULT


def test_a_hundred_slots_run_every_job_exactly_once(redis_url: str) -> None:
    app = Taskora(redis_adapter(redis_url), retention=KEEP_EVERY_RESULT)
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    def record(n: int) -> int:
        with lock:
            runs[n] += 1
        return n

    task = app.task("record", record, concurrency=100)
    handles = [h for start in range(0, 3000, 500) for h in task.dispatch_many(list(range(start, start + 500)))]
    app.start()
    try:
        assert [h.result(timeout=60) for h in handles[-5:]] == list(range(2995, 3000))
        for h in handles:
            h.result(timeout=60)
    finally:
        app.close()

    assert sum(runs.values()) == 3000
    assert set(runs.values()) == {1}, [n for n, c in runs.items() if c > 1][:10]
