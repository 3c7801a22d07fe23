"""What one dispatch costs, in figures a shared, noisy machine does not move much.

Wall-clock jobs/s (``python -m bench``) swings with whatever else runs on the machine. Two costs of a
dispatch barely do: the CPU time the dispatching process spends per call (``time.process_time``, which
counts only this process), and the time Redis spends running the script (``INFO commandstats``:
``usec_per_call`` of the script call, FCALL or EVALSHA, and the command calls per
dispatch). This measures both for the native
``task.dispatch(data)`` and the Celery front's ``add.delay(data)``, results stored and ignored, each on a
fresh throw-away ``redis-server``::

    python -m bench.dispatch_cost                  # 20,000 calls per row, the minimum of 3 runs
    python -m bench.dispatch_cost --calls 5000 --profile native-ignored   # + a cProfile of one row

``--bulk`` measures batches of 100 instead, per job: ``dispatch_many`` and, for the Celery front, a
``producer.batch()`` of ``apply_async`` calls (as the benchmark's ``enqueue_bulk``).

The flow-control rows (``--rows dedup-ignored,throttle-ignored``, not in the default set) are the native
dispatch with ``deduplicate`` (a new key per call: every job is created and takes its key) or ``throttle``
(a ``max`` no call reaches: every job is admitted), to compare with ``native-ignored``::

    python -m bench.dispatch_cost --rows native-ignored,dedup-ignored,throttle-ignored
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import time
from collections.abc import Callable
from typing import Any

import redis

from .redis_server import RedisServer

ROWS = ("native-stored", "native-ignored", "compat-stored", "compat-ignored")
#: Rows of a native dispatch under a flow-control option (issue #16), run when named in ``--rows``.
FLOW_ROWS = ("dedup-stored", "dedup-ignored", "throttle-stored", "throttle-ignored")
BATCH = 100
PROFILE_SORT = os.environ.get("PROFILE_SORT", "cumulative")


def native_dispatcher(url: str, store: bool, bulk: bool) -> Callable[[dict[str, int]], Any]:
    """The bench app's native task (bench/taskora_app.py), built against ``url``."""
    from taskora import Taskora

    app = Taskora(url)

    @app.task("bench-noop", keep_result=store)
    def noop(data: Any) -> None:
        return None

    if bulk:
        return lambda payload: noop.dispatch_many([payload] * BATCH)
    return noop.dispatch


def flow_options(kind: str) -> Callable[[dict[str, int]], dict[str, Any]]:
    """The dispatch options of a flow row's call with ``payload``: a dedup key of its own (created), or one
    throttle whose ``max`` no run reaches (admitted)."""
    if kind == "dedup":
        keys = itertools.count()  # not the payload's number: the warm-up's -0 is the first call's 0
        return lambda payload: {"deduplicate": {"key": f"k{next(keys)}"}}
    limit = {"key": "bench", "max": 10**9, "window": "1h"}
    return lambda payload: {"throttle": limit}


def flow_dispatcher(kind: str) -> Callable[[str, bool, bool], Callable[[dict[str, int]], Any]]:
    """A native dispatcher that sends each call with the flow option of ``kind`` (single dispatch only)."""
    def build(url: str, store: bool, bulk: bool) -> Callable[[dict[str, int]], Any]:
        if bulk:
            raise SystemExit(f"the {kind} rows measure single dispatch; run them without --bulk")
        dispatch, options = native_dispatcher(url, store, bulk), flow_options(kind)
        return lambda payload: dispatch(payload, **options(payload))

    return build


def compat_dispatcher(url: str, store: bool, bulk: bool) -> Callable[[dict[str, int]], Any]:
    """The bench app's Celery-front task (bench/compat_app.py), with the same settings."""
    from taskora.compat import Celery

    app = Celery("bench", broker=url, backend=url)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                    task_acks_late=False, worker_prefetch_multiplier=64, worker_disable_rate_limits=True,
                    task_track_started=False, task_ignore_result=not store,
                    broker_connection_retry_on_startup=True)  # fmt: skip

    @app.task(name="bench-noop")
    def noop(data: Any) -> None:
        return None

    if bulk:  # as bench/lib_celery.py's dispatch_batch: one producer, its publishes in one batch
        def batch(payload: dict[str, int]) -> list[Any]:
            with app.producer_or_acquire() as producer, producer.batch():
                return [noop.apply_async((payload,), producer=producer) for _ in range(BATCH)]

        return batch
    return noop.delay


#: The commands that run an engine script: which one depends on the server (adapters/scripts.py).
SCRIPT_COMMANDS = ("evalsha", "fcall")


def redis_stats(client: redis.Redis) -> dict[str, tuple[int, float]]:
    """``{command: (calls, usec)}`` from INFO commandstats."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): (int(v["calls"]), float(v["usec"])) for name, v in stats.items()}


def measure(url: str, row: str, calls: int, bulk: bool, profile: bool) -> dict[str, Any]:
    """CPU µs and wall µs per dispatched job in this process, Redis µs per job, and the engine's script calls
    (``FCALL`` on a Redis with functions, else ``EVALSHA``) per job and µs per call."""
    kind, results = row.split("-")
    build = {"native": native_dispatcher, "compat": compat_dispatcher}.get(kind) or flow_dispatcher(kind)
    dispatch = build(url, results == "stored", bulk)
    client = redis.Redis.from_url(url)
    client.flushall()
    n = max(1, calls // BATCH) if bulk else calls
    for i in range(min(n, 500)):  # connections open, scripts loaded, caches warm
        dispatch({"i": -i})
    client.config_resetstat()
    profiler = cProfile.Profile() if profile else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for i in range(n):
        dispatch({"i": i})
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stats = redis_stats(client)
    stats.pop("config|resetstat", None)
    jobs = n * BATCH if bulk else n
    redis_usec = sum(usec for _c, usec in stats.values())
    script_calls = sum(stats.get(name, (0, 0.0))[0] for name in SCRIPT_COMMANDS)
    script_usec = sum(stats.get(name, (0, 0.0))[1] for name in SCRIPT_COMMANDS)
    if profiler:
        pstats.Stats(profiler).sort_stats(PROFILE_SORT).print_stats(45)
    return {"row": row, "jobs": jobs, "cpu_us": cpu / jobs * 1e6, "wall_us": wall / jobs * 1e6,
            "redis_us": redis_usec / jobs, "script_us": script_usec / script_calls if script_calls else 0.0,
            "scripts": round(script_calls / jobs, 2),
            "cmds": {name: round(c / jobs, 2) for name, (c, _u) in stats.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--bulk", action="store_true", help="per job of dispatch_many / group().apply_async")
    parser.add_argument("--profile", default="", help="a row to run under cProfile (its figures include the profiler)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; each figure is the minimum (noise adds)")
    parser.add_argument("--url", help="an existing Redis (FLUSHALLed!); default: a throw-away redis-server")
    args = parser.parse_args(argv)
    print(f"{'row':<16} {'jobs':>7} {'cpu µs/job':>11} {'wall µs/job':>12} {'redis µs/job':>13} "
          f"{'script µs':>11}  commands per job")
    with RedisServer() as server:
        url = args.url or server.url
        for row in args.rows.split(","):
            runs = [measure(url, row, args.calls, args.bulk, profile=row == args.profile) for _ in range(args.repeat)]
            r = {**runs[0], **{k: min(run[k] for run in runs) for k in ("cpu_us", "wall_us", "redis_us", "script_us")}}
            print(f"{r['row']:<16} {r['jobs']:>7} {r['cpu_us']:>11.1f} {r['wall_us']:>12.1f} {r['redis_us']:>13.2f} "
                  f"{r['script_us']:>11.2f}  {r['cmds']}")


if __name__ == "__main__":
    main()
