"""Retention under load: does trimming keep the finished records within the limits at full drain speed?

Enqueues N jobs of a no-op task (default retention: 100 completed kept), drains them with a 16-slot
in-process worker, and samples the completed records (zset and job hashes) while it runs. Reports the
drain time, the most records ever held, the records left the moment the queue ran dry, and how long
after that retention was back within its limit.

    python -m bench.retention                 # 100,000 jobs
    python -m bench.retention --jobs 20000    # quicker
"""

from __future__ import annotations

import argparse
import threading
import time

from taskora import Taskora
from taskora.worker.loop import Worker

from .redis_server import RedisServer

SAMPLE_EVERY_S = 0.25


def _records(app: Taskora) -> int:
    return app.adapter.counts("noop")["completed"]


def _sample(app: Taskora, stop: threading.Event, peaks: list[int]) -> None:
    while not stop.wait(SAMPLE_EVERY_S):
        peaks.append(_records(app))


def run(jobs: int, slots: int) -> dict[str, float]:
    with RedisServer() as server:
        app = Taskora(server.url)
        task = app.task("noop", lambda _: None)
        for start in range(0, jobs, 10_000):
            task.dispatch_many([None] * min(10_000, jobs - start))
        worker, stop, samples = Worker(app, [task], concurrency=slots), threading.Event(), []
        sampler = threading.Thread(target=_sample, args=(app, stop, samples), daemon=True)
        began = time.monotonic()
        worker.start()
        sampler.start()
        while (c := app.adapter.counts("noop"))["waiting"] or c["active"]:
            time.sleep(0.05)
        drained, left = time.monotonic() - began, _records(app)
        while _records(app) > app.retention.completed_count:
            time.sleep(0.05)
        settled = time.monotonic() - began - drained
        stop.set()
        worker.stop(timeout=10)
        app.close()
    return {"jobs": jobs, "drain_s": drained, "rate": jobs / drained, "peak": max(samples, default=left),
            "left_at_drain": left, "settled_after_s": settled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--slots", type=int, default=16)
    r = run(**vars(parser.parse_args()))
    print(f"{r['jobs']:,} jobs drained in {r['drain_s']:.1f} s ({r['rate']:,.0f} jobs/s); completed records: "
          f"peak {r['peak']:,}, {r['left_at_drain']:,} when the queue ran dry, within retention "
          f"(100) {r['settled_after_s']:.1f} s later")


if __name__ == "__main__":
    main()
