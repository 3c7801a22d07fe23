"""Retention under load: does trimming keep the finished records within the limits at full drain speed?

Enqueues N jobs of a no-op task (default retention: 100 completed kept), drains them with a 16-slot
in-process worker, and samples the completed records (zset and job hashes) while it runs. Reports the
drain time, the most records ever held, the records left the moment the queue ran dry, and how long
after that retention was back within its limit.

    python -m bench.retention                 # 100,000 jobs
    python -m bench.retention --jobs 20000    # quicker

``--sustained`` measures the other half of the question (issue #20): jobs dispatched at a steady rate by a
producer process and completed by the worker as they come, for a while, once with retention on (the default,
100 completed kept) and once off (limits the run never reaches). It reports the completion throughput both
ways and the records held over time (completed zset, keys in Redis, Redis memory).

    python -m bench.retention --sustained                          # 5,000 jobs/s for 60 s, on then off
    python -m bench.retention --sustained --rate 2000 --seconds 10 # the short form
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from taskora import Taskora
from taskora.worker.loop import Worker

from .redis_server import RedisServer

SAMPLE_EVERY_S = 0.25


def _records(app: Taskora) -> int:
    return app.adapter.counts("noop")["completed"]


def _sample_peaks(app: Taskora, stop: threading.Event, peaks: list[int]) -> None:
    """The drain's sampler thread: the completed records every ``SAMPLE_EVERY_S``."""
    while not stop.wait(SAMPLE_EVERY_S):
        peaks.append(_records(app))


def run(jobs: int, slots: int) -> dict[str, float]:
    with RedisServer() as server:
        app = Taskora(server.url)
        task = app.task("noop", lambda _: None)
        for start in range(0, jobs, 10_000):
            task.dispatch_many([None] * min(10_000, jobs - start))
        worker, stop, samples = Worker(app, [task], concurrency=slots), threading.Event(), []
        sampler = threading.Thread(target=_sample_peaks, args=(app, stop, samples), daemon=True)
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


# -- sustained load ------------------------------------------------------------------------------------
#: Retention "off": limits a run of minutes never reaches, so the trim finds nothing to delete.
RETENTION_OFF = {"completed": {"max_age": "1d", "max_items": 10**9}}
#: Seconds between two dispatch_many calls of the paced producer.
TICK_S = 0.02


def _produce(url: str, rate: int, seconds: float, sent: Any) -> None:
    """Dispatch ``rate`` jobs/s for ``seconds`` in batches every TICK_S, on an absolute schedule (a late
    batch is sent at once, not skipped); runs in a process of its own so it never competes for our GIL."""
    app = Taskora(url)
    task = app.register_task("noop", None)
    per_tick, start = max(1, round(rate * TICK_S)), time.monotonic()
    tick = 0
    while (due := start + tick * TICK_S) < start + seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        task.dispatch_many([None] * per_tick)
        with sent.get_lock():
            sent.value += per_tick
        tick += 1
    app.close()


@dataclass
class Sample:
    at_s: float
    finished: int
    records: int
    keys: int
    memory_mb: float


@dataclass
class SustainedRun:
    retention: str
    seconds: float
    sent: int = 0
    samples: list[Sample] = field(default_factory=list)
    drained_after_s: float | None = None

    @property
    def rate(self) -> float:
        """Jobs completed per second over the load window (the last sample at or before its end)."""
        within = [s for s in self.samples if s.at_s <= self.seconds + 1e-6]
        return within[-1].finished / within[-1].at_s if within and within[-1].at_s else 0.0


def _sample(app: Taskora, began: float, sent: int) -> Sample:
    counts = app.adapter.counts("noop")
    info = app.adapter.raw_client().info("memory")
    pending = counts["waiting"] + counts["active"] + counts["delayed"]
    return Sample(at_s=time.monotonic() - began, finished=sent - pending, records=counts["completed"],
                  keys=int(app.adapter.raw_client().dbsize()), memory_mb=info["used_memory"] / 2**20)


def sustained(rate: int, seconds: float, slots: int, retention: str) -> SustainedRun:
    """One run on a fresh Redis: a producer process at ``rate`` for ``seconds``, a worker completing."""
    result = SustainedRun(retention, seconds)
    with RedisServer() as server:
        app = Taskora(server.url, retention=RETENTION_OFF if retention == "off" else None)
        task = app.task("noop", lambda _: None)
        worker = Worker(app, [task], concurrency=slots)
        worker.start()
        spawn = multiprocessing.get_context("spawn")
        sent = spawn.Value("q", 0)
        producer = spawn.Process(target=_produce, args=(server.url, rate, seconds, sent), daemon=True)
        began = time.monotonic()
        producer.start()
        _follow(app, result, began, sent, producer)
        worker.stop(timeout=10)
        app.close()
    return result


def _follow(app: Taskora, result: SustainedRun, began: float, sent: Any, producer: Any) -> None:
    """Sample once a second while the producer runs, then until the backlog is drained (at most 60 s)."""
    while producer.is_alive() or (result.samples and result.samples[-1].finished < sent.value):
        time.sleep(max(0.0, len(result.samples) + 1 - (time.monotonic() - began)))
        result.samples.append(_sample(app, began, sent.value))
        if not producer.is_alive() and time.monotonic() - began > result.seconds + 60:
            break
    result.sent = sent.value
    if result.samples and result.samples[-1].finished >= result.sent:
        result.drained_after_s = result.samples[-1].at_s - result.seconds


def report_sustained(runs: list[SustainedRun], rate: int, every: int) -> None:
    for r in runs:
        drained = "drained" if r.drained_after_s is None else f"drained {max(r.drained_after_s, 0):.1f} s after"
        peak = max(r.samples, key=lambda s: s.records)
        print(f"retention {r.retention}: {r.sent:,} jobs sent at {rate:,}/s for {r.seconds:.0f} s; completed "
              f"{r.rate:,.0f} jobs/s over the window ({drained} the producer stopped); completed records peak "
              f"{peak.records:,}, at the end {r.samples[-1].records:,}")
        print("   t(s)  finished  completed-records     keys  memory(MB)")
        for s in r.samples[::every] + ([r.samples[-1]] if (len(r.samples) - 1) % every else []):
            print(f"  {s.at_s:5.0f}  {s.finished:8,}  {s.records:17,}  {s.keys:7,}  {s.memory_mb:10.1f}")
    if len(runs) == 2 and runs[1].rate:
        print(f"throughput with retention on / off: {runs[0].rate / runs[1].rate:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--sustained", action="store_true", help="paced load, retention on then off")
    parser.add_argument("--rate", type=int, default=5_000, help="--sustained: jobs dispatched per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="--sustained: how long the load lasts")
    parser.add_argument("--every", type=int, default=5, help="--sustained: print every Nth 1-second sample")
    args = parser.parse_args()
    if args.sustained:
        runs = [sustained(args.rate, args.seconds, args.slots, mode) for mode in ("on", "off")]
        report_sustained(runs, args.rate, args.every)
        return
    r = run(args.jobs, args.slots)
    print(f"{r['jobs']:,} jobs drained in {r['drain_s']:.1f} s ({r['rate']:,.0f} jobs/s); completed records: "
          f"peak {r['peak']:,}, {r['left_at_drain']:,} when the queue ran dry, within retention "
          f"(100) {r['settled_after_s']:.1f} s later")


if __name__ == "__main__":
    main()
