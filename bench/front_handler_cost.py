"""What the Celery front's own layer costs per job a worker runs: ``python -m bench.front_handler_cost``.

A Celery task runs in taskora's worker as a native handler (compat/app/_execute.py ``make_handler``) that
builds ``self.request``, sends the task signals, keeps the worker state and traces the call. This times that
handler alone, on the in-process engine and with the ``ctx`` of a job a real worker claimed (the handler is
wrapped for that one job, then called directly): CPU microseconds per call, the minimum of five rounds, so
neither Redis nor the claim loop is in the figure. ``--profile`` adds a cProfile of one round.

    python -m bench.front_handler_cost [-n 20000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import threading
import time
from typing import Any

from taskora.compat import Celery

from taskora.worker.pools import ThreadPool, WorkerSettings

ROUNDS = 5


def _app() -> Celery:
    """bench/celery_app.py's settings, results ignored, on the in-process engine."""
    app = Celery("front-handler-cost", broker="memory://", backend="memory://")
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                    task_acks_late=False, worker_prefetch_multiplier=64, worker_disable_rate_limits=True,
                    task_track_started=False, task_ignore_result=True)

    @app.task(name="bench-noop")
    def noop(data: Any) -> None:
        return None

    return app


def claimed_call(app: Celery) -> tuple[Any, Any, Any]:
    """(handler, data, ctx) of one ``noop.delay`` job run by a one-slot worker."""
    native = app.__taskora_app__
    task = native.get_task("bench-noop")
    handler, seen, done = task.handler, {}, threading.Event()

    def capture(data: Any, ctx: Any) -> Any:
        seen["call"] = (data, ctx)
        done.set()
        return handler(data, ctx)

    task.handler = capture
    app.tasks["bench-noop"].delay({"i": 1})
    pool = ThreadPool(WorkerSettings(app=native, tasks=[task], hostname="cost@bench", concurrency=1, extra={}))
    pool.start()
    try:
        if not done.wait(10):
            raise RuntimeError("the worker ran no job in 10 s")
    finally:
        pool.request_stop(cold=False)
        pool.wait(10)
        task.handler = handler
    return handler, *seen["call"]


def cpu_us_per_call(handler: Any, data: Any, ctx: Any, calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        handler(data, ctx)
    return (time.process_time() - started) / calls * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.front_handler_cost", description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--calls", type=int, default=20_000, help="calls per round")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one more round")
    args = parser.parse_args(argv)
    handler, data, ctx = claimed_call(_app())
    cpu_us_per_call(handler, data, ctx, 500)  # warm-up
    best = min(cpu_us_per_call(handler, data, ctx, args.calls) for _ in range(ROUNDS))
    print(f"Celery front handler: {best:.2f} CPU µs per call (min of {ROUNDS} rounds of {args.calls:,})")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(cpu_us_per_call, handler, data, ctx, args.calls)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
