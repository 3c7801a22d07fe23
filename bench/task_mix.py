"""A backlog spread over several tasks, drained by one ``taskora worker -A`` of a Celery-front project.

Every other scenario runs one task, as the peers' benchmarks do; a real project has many, and a Celery
worker serves them all under one ``-c``. Here each task has slots of its own that share the worker's
running budget and prefetch bound (docs/operations/workers.md, "Prefetch"), so this is where a slot
claiming a job that can neither start nor wait shows: the job goes back to its queue unstarted and is
claimed again. It prints the wall time of the drain (start-up included, the same for every run) and how
many jobs went back (the ``waiting`` events with reason ``requeued`` the engine wrote).

    python -m bench.task_mix --tasks 6 -n 4000 --runs 3 -- -P prefork -c 1
    python -m bench.task_mix --tasks 1 -n 4000 --runs 3 -- -P threads -c 4
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import redis

from .redis_server import RedisServer

PROJECT = '''
import os

from taskora.compat import Celery

app = Celery("mix", broker=os.environ["REDIS_URL"], backend=os.environ["REDIS_URL"])


def _noop(name):
    @app.task(name=name)
    def noop():
        return None
    return noop


TASKS = [_noop(f"mix{i}") for i in range(int(os.environ["MIX_TASKS"]))]
'''


def _requeued(client: redis.Redis, tasks: int) -> int:
    """Jobs handed back unstarted: the engine's ``waiting`` events with reason ``requeued``."""
    count = 0
    for i in range(tasks):
        for _id, fields in client.xrange(f"taskora:{{mix{i}}}:events"):
            count += fields.get(b"reason") == b"requeued"
    return count


def _project(directory: str, url: str, tasks: int) -> ModuleType:
    """The project, written to ``directory`` and imported here, where the backlog is sent from."""
    Path(directory, "mixproj.py").write_text(PROJECT)
    os.environ.update(REDIS_URL=url, MIX_TASKS=str(tasks))
    sys.path.insert(0, directory)
    return importlib.import_module("mixproj")


def one_run(project: ModuleType, url: str, directory: str, jobs: int, worker_args: list[str]) -> tuple[float, int]:
    client = redis.Redis.from_url(url)
    client.flushall()
    tasks = len(project.TASKS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [directory, os.environ.get("PYTHONPATH")])))
    results = [project.TASKS[i % tasks].delay() for i in range(jobs)]
    started = time.perf_counter()
    log_path = Path(directory, "worker.log")
    with log_path.open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A", "mixproj", "-l", "warning",
                                   *worker_args], cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            for result in results:
                result.get(timeout=300)
            elapsed = time.perf_counter() - started
        except BaseException:
            print(log_path.read_text(errors="replace")[-4000:], file=sys.stderr)  # why the drain did not end
            raise
        finally:
            worker.terminate()
            worker.wait(30)
    return elapsed, _requeued(client, tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("-n", type=int, default=4000, help="jobs, round-robin over the tasks")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("worker_args", nargs="*", help="after --: the worker's options (-P prefork -c 1 ...)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mix-") as directory, RedisServer() as server:
        project = _project(directory, server.url, args.tasks)
        runs = [one_run(project, server.url, directory, args.n, args.worker_args) for _ in range(args.runs)]
    for elapsed, requeued in runs:
        print(f"{args.n} jobs over {args.tasks} task(s): {elapsed:.2f} s, {requeued} handed back unstarted")
    print(f"median {statistics.median(e for e, _r in runs):.2f} s, "
          f"{statistics.median(r for _e, r in runs):.0f} handed back")


if __name__ == "__main__":
    main()
