"""A Celery-front project of many tasks under one ``taskora worker -A``: the Redis connections it holds, and
what sharing its idle slots' wait costs (taskora/worker/shared_wait.py).

Every slot of a worker process is a thread with a connection of its own, and a slot per task and child adds up:
50 tasks at ``-P prefork -c 2`` held 124 connections. From 32 idle waits in a process (a slot of its own, or a
feeder's two watchers), idle slots share one wait; ``TASKORA_SHARED_WAIT_FROM=0`` turns that off. Each round runs
both, one after the other, on the same redis-server, and prints per worker: connections idle (and how many
blocked), the most seen during a drain of ``-n`` jobs sent round-robin over the tasks to the idle worker, the
drain's time and how many of its jobs went back unstarted (claimed past the prefetch bound, so claimed twice), and
the round trip (``delay().get()``) of jobs sent one at a time; and the threads and resident memory of the worker's
processes (its children included), idle and right after the drain (a feeder's group in a process that shares its
wait starts slot threads as jobs need them, taskora/worker/feeder.py).

    python -m bench.many_tasks --tasks 50 --rounds 2 -- -P prefork -c 2
    python -m bench.many_tasks --tasks 50 --rounds 2 -- -P threads -c 4
    python -m bench.many_tasks --tasks 50 --rounds 1 -- -P threads -c 100
    python -m bench.many_tasks --tasks 50 --rounds 3 --ways shared -- -P threads -c 100   # the shared wait only
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from types import ModuleType

import redis

from .redis_server import RedisServer
from .task_mix import _project, _requeued

#: The two ways a run's worker waits: the default (shared from 32 slots), and each slot on its own.
WAYS = {"shared": None, "own": "0"}


def _clients(client: redis.Redis) -> tuple[int, int]:
    info = client.info("clients")
    return int(info["connected_clients"]) - 1, int(info["blocked_clients"])  # this client not counted


def _start(directory: str, url: str, worker_args: list[str], threshold: str | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [directory, os.environ.get("PYTHONPATH")])))
    env.pop("TASKORA_SHARED_WAIT_FROM", None)
    if threshold is not None:
        env["TASKORA_SHARED_WAIT_FROM"] = threshold
    return subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A", "mixproj", "-l", "warning",
                             *worker_args], cwd=directory, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def _until_idle(client: redis.Redis, project: ModuleType) -> tuple[int, int]:
    """Once every task's slot answered a job and the connection count held still for a second: (connections,
    blocked)."""
    for result in [task.delay() for task in project.TASKS]:
        result.get(timeout=60)
    seen, steady_since = _clients(client), time.monotonic()
    while time.monotonic() - steady_since < 1.0:
        time.sleep(0.1)
        now = _clients(client)
        if now != seen:
            seen, steady_since = now, time.monotonic()
    return seen


def _drain(client: redis.Redis, project: ModuleType, jobs: int) -> tuple[float, int]:
    """Seconds to run ``jobs`` sent at once, and the most connections seen meanwhile (looked at every 20 ms)."""
    peak, done = [0], threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _clients(client)[0])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    for result in [project.TASKS[i % len(project.TASKS)].delay() for i in range(jobs)]:
        result.get(timeout=300)
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    return elapsed, peak[0]


def _processes(pid: int) -> list[int]:
    """``pid`` and its children (a prefork worker's), from /proc."""
    children = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as listed:
            children += [int(child) for child in listed.read().split()]
    return [pid, *children]


def _size(pid: int) -> tuple[int, int]:
    """(threads, resident MB) of the worker ``pid`` and its children."""
    threads = rss_kb = 0
    for process in _processes(pid):
        with open(f"/proc/{process}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        threads += int(fields["Threads"])
        rss_kb += int(fields["VmRSS"].split()[0])
    return threads, rss_kb // 1024


def _round_trips(project: ModuleType, count: int = 200) -> list[float]:
    """Milliseconds of ``delay().get()`` for jobs sent one at a time, round-robin over the tasks."""
    taken = []
    for i in range(count):
        started = time.perf_counter()
        project.TASKS[i % len(project.TASKS)].delay().get(timeout=30)
        taken.append((time.perf_counter() - started) * 1000)
    return sorted(taken)


def one_way(project: ModuleType, url: str, directory: str, jobs: int, worker_args: list[str],
            threshold: str | None) -> str:  # fmt: skip
    client = redis.Redis.from_url(url)
    client.flushall()
    worker = _start(directory, url, worker_args, threshold)
    try:
        idle, blocked = _until_idle(client, project)
        idle_threads, idle_mb = _size(worker.pid)
        elapsed, peak = _drain(client, project, jobs)
        drained_threads, drained_mb = _size(worker.pid)
        handed_back = _requeued(client, len(project.TASKS))
        trips = _round_trips(project)
    finally:
        worker.terminate()
        worker.wait(30)
    p50, p90 = statistics.median(trips), trips[int(len(trips) * 0.9)]
    return (f"{idle} connections idle ({blocked} blocked), {peak} at most in the drain; {jobs} jobs in "
            f"{elapsed:.2f} s, {handed_back} handed back unstarted; round trip p50 {p50:.3f} ms, p90 {p90:.3f} ms; "
            f"threads {idle_threads} idle, {drained_threads} after the drain; {idle_mb}/{drained_mb} MB resident")


def _ways(text: str) -> list[str]:
    ways = text.split(",")
    unknown = [way for way in ways if way not in WAYS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown wait {', '.join(unknown)}: expected shared, own or shared,own")
    return ways


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("-n", type=int, default=4000, help="jobs in the drain, round-robin over the tasks")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ways", type=_ways, default=list(WAYS), help="which waits to run: shared, own, or both "
                        "as shared,own (the default)")
    parser.add_argument("worker_args", nargs="*", help="after --: the worker's options (-P prefork -c 2 ...)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-many-") as directory, RedisServer() as server:
        project = _project(directory, server.url, args.tasks)
        for _round in range(args.rounds):
            for way in args.ways:
                threshold = WAYS[way]
                line = one_way(project, server.url, directory, args.n, args.worker_args, threshold)
                print(f"{args.tasks} tasks, {' '.join(args.worker_args)}, {way} waits: {line}", flush=True)


if __name__ == "__main__":
    main()
