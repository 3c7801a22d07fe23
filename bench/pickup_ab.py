"""Two workers' paced pickup, side by side in one run: ``python -m bench.pickup_ab --b ../other-checkout``.

A paced pickup on a virtual machine moves with the machine more than with the code: on the AMD guest of
2026-12-07 the bare ``LPUSH → BLPOP`` floor read anywhere from 0.12 to 0.33 ms across runs minutes apart, so
two runs, one per version of the worker, compare the two moments more than the two versions. Here the
two workers run at once, each on a ``redis-server`` of its own (they never take each other's jobs), and one
producer sends to them in turn, with a bare ``LPUSH`` to a ``BLPOP``ing consumer (bench/bare_pickup.py) as a
third stream between them: whatever the machine does, it does to all three alike.

``--a`` and ``--b`` name the checkouts the workers run from (this one by default), so a change to the worker
is measured against the code it changes. Both sides are dispatched to by this checkout's client, so a
change to the dispatching side shows on both alike: this compares workers only. ``--b-lib huey`` (any
library of ``python -m bench``) makes side B that library instead, dispatched by its own client and run by
its own worker, as the latency scenario runs it: taskora's paced pickup against a peer's at the same
moments, where two scenarios of one run are minutes apart. Placed as ``python -m bench --pin`` places
processes (bench/pinning.py): Redis and this process on the first CPU, the workers and the bare consumer on
the others.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import redis

from taskora import Taskora

from . import appenv, bare_pickup, config, pinning, scenarios, stamps
from .lib_taskora import TASK_NAME, TaskoraDriver
from .redis_server import RedisServer
from .report import percentile
from .workers import REPO_ROOT, Worker, wait_for_stamps, worker_env

BARE_KEY = "bench:bare-pickup"
QUANTILES = (50, 95, 99)


def _producer(url: str, results: str):
    """A client of one side's Redis with the benchmark's task on it (``bench/taskora_app.py``'s name)."""
    app = Taskora(url)

    @app.task(TASK_NAME, keep_result=results == "stored")
    def noop(data: dict) -> None:
        return None

    return noop


def _worker(checkout: Path, url: str, pool: str, stamp_file: str, results: str) -> Worker:
    """A worker of the benchmark app run from ``checkout``: its directory first on the path (``python -c`` puts
    the working directory first), so its ``taskora`` and ``bench`` are the ones imported."""
    env = worker_env(url, stamp_file)
    env["PYTHONPATH"] = os.pathsep.join([str(checkout), env["PYTHONPATH"]])
    env["BENCH_RESULTS"] = results
    name, concurrency = pool.split(":")
    return Worker(TaskoraDriver.worker_argv(name, int(concurrency)), env, cwd=checkout)


def _taskora_side(checkout: Path, url: str, pool: str, stamp_file: str, results: str) -> tuple[Worker, object]:
    """A side of two taskora versions: ``checkout``'s worker, and this checkout's client to dispatch with."""
    return _worker(checkout, url, pool, stamp_file, results), _producer(url, results)


def _peer_side(lib: str, url: str, pool: str, stamp_file: str, results: str) -> tuple[Worker, object]:
    """Side B as another library (``--b-lib``): its worker, and its driver to dispatch with. A peer's app module
    takes the Redis URL and the results configuration from bench/appenv.py when first imported, and appenv
    read them from the environment when this process imported it: they are set, and appenv read again."""
    os.environ[appenv.URL_ENV], os.environ[appenv.RESULTS_ENV] = url, results
    importlib.reload(appenv)
    name, concurrency = pool.split(":")
    return scenarios.start_worker(lib, name, int(concurrency), url, stamp_file), scenarios.load_driver(lib)


def _send_in_turn(tasks: list, bare: redis.Redis, jobs: int, rate: float) -> None:
    """``jobs`` arrivals per side, the sides and the bare floor in turn, ``rate`` arrivals a second in all. The
    order within a turn goes through every permutation: a stream always sent first (or right after the floor's
    consumer woke) would read a few per cent apart from the others on the same code."""
    streams = len(tasks) + 1
    orders = list(itertools.permutations(range(streams)))
    start = time.perf_counter()
    for k in range(streams * jobs):
        pause = start + k / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        turn, place = divmod(k, streams)
        side = orders[turn % len(orders)][place]
        if side == len(tasks):
            bare.lpush(BARE_KEY, repr(time.time()))
        else:
            tasks[side].dispatch({"i": k, "t": time.time()})


def _pickups(path: str) -> list[float]:
    return [started - sent for i, sent, started, _end in stamps.read(path) if i >= 0 and sent]


def measure(a: Path, b: Path, pools: tuple[str, str], jobs: int, rate: float,
            results: str, b_lib: str = "taskora") -> dict[str, list[float]]:  # fmt: skip
    """Pickup times (seconds) of the bare floor and of each side's worker (``pools``: A's and B's; side B another
    library's when ``b_lib`` names one), measured in one interleaved run."""
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        servers = [stack.enter_context(RedisServer()) for _ in (a, b)]
        _place(servers)
        consumer = bare_pickup.start_consumer(servers[0].url, BARE_KEY, jobs)
        files = [str(Path(tmp) / side) for side in ("a", "b")]
        sides = [_taskora_side(a, servers[0].url, pools[0], files[0], results),
                 _taskora_side(b, servers[1].url, pools[1], files[1], results) if b_lib == "taskora"
                 else _peer_side(b_lib, servers[1].url, pools[1], files[1], results)]
        workers = [stack.enter_context(worker) for worker, _task in sides]
        tasks = [task for _worker, task in sides]
        for task, path, worker in zip(tasks, files, workers, strict=True):
            task.dispatch({"i": -1})  # the worker is up once its first stamp is written
            wait_for_stamps(path, 1, 60, worker)
        _send_in_turn(tasks, redis.Redis.from_url(servers[0].url), jobs, rate)
        for path, worker in zip(files, workers, strict=True):
            wait_for_stamps(path, jobs + 1, 60, worker)
        out, _err = consumer.communicate(timeout=60)
        return {"floor": [float(line) for line in out.split()], "a": _pickups(files[0]), "b": _pickups(files[1])}


def _place(servers: list[RedisServer]) -> None:
    """As ``--pin`` (bench/pinning.py): both Redis servers and this process on the load CPU, workers on the others."""
    problem = pinning.cannot_pin()
    if problem:
        raise SystemExit(problem)
    first, *others = [server.process.pid for server in servers if server.process is not None]
    pinning.start_pinning(first)
    for pid in others:
        pinning.pin_process(pid, pinning.load_cpus())


def table(pickups: dict[str, list[float]], names: dict[str, str]) -> str:
    """A markdown table: p50/p95/p99 in ms of each row, and p50 as a multiple of the floor's."""
    floor_p50 = percentile(pickups["floor"], 50)
    lines = ["| pickup, paced | " + " | ".join(f"p{q} ms" for q in QUANTILES) + " | p50 ÷ floor p50 |",
             "|---|" + "---:|" * (len(QUANTILES) + 1)]
    for key, label in (("floor", "bare LPUSH → BLPOP"), ("a", names["a"]), ("b", names["b"])):
        cells = [f"{percentile(pickups[key], q) * 1000:.3f}" for q in QUANTILES]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {percentile(pickups[key], 50) / floor_p50:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pickup_ab", description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, default=REPO_ROOT, help="checkout side A's worker runs from")
    parser.add_argument("--b", type=Path, default=REPO_ROOT, help="checkout side B's worker runs from")
    parser.add_argument("--pool", default="threads:10", help="POOL:CONCURRENCY of both workers (the latency "
                        "scenario's)")
    parser.add_argument("--pool-b", help="POOL:CONCURRENCY of side B's worker when it differs from A's (one "
                        "version's two pools side by side)")
    parser.add_argument("--b-lib", default="taskora", choices=config.LIBRARIES, help="the library side B runs "
                        "(huey, compat, ...; --b is then unused): taskora's pickup beside another's, same moments")
    parser.add_argument("--jobs", type=int, default=1000, help="pickups per side")
    parser.add_argument("--rate", type=float, default=200.0, help="arrivals a second, all three streams together")
    parser.add_argument("--results", choices=("stored", "ignored"), default="stored")
    args = parser.parse_args(argv)
    a, b = args.a.resolve(), args.b.resolve()
    pools = (args.pool, args.pool_b or args.pool)
    try:
        pickups = measure(a, b, pools, args.jobs, args.rate, args.results, args.b_lib)
    except ImportError as exc:  # a peer not installed: bench/requirements.txt has them
        raise SystemExit(f"--b-lib {args.b_lib}: its app does not import ({exc}); "
                         "pip install -r bench/requirements.txt") from exc
    print(f"{args.jobs} pickups per side, {args.rate:g} arrivals/s in all, results {args.results}")
    sides = (str(a), str(b) if args.b_lib == "taskora" else args.b_lib)
    print(table(pickups, {side: f"{side.upper()}: {where}, -P {pool.replace(':', ' -c ')}"
                          for side, where, pool in zip("ab", sides, pools, strict=True)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
