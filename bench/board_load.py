"""``python -m bench.board_load [--jobs 1000000] [--repeats 30]``: how fast the board answers with many jobs.

Starts a throw-away redis-server, runs a few hundred real jobs through a worker (so their hashes are exactly
what the engine writes), then clones one of those completed hashes under fresh ids until the task holds
``--jobs`` completed jobs (a pipeline: filling a million through the worker would measure the worker, not
the board). Serves the board with uvicorn and times each page's HTTP requests from a client: the median and
the 95th percentile over ``--repeats`` requests, after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from typing import Any

import httpx
import uvicorn

from taskora import Taskora
from taskora.board import create_board

from .redis_server import RedisServer

TASK = "report"
PASSWORD = "bench"
REAL_JOBS = 200
PIPELINE = 5000


def fill(app: Taskora, jobs: int) -> tuple[str, float]:
    """``jobs`` completed jobs of TASK (REAL_JOBS of them real); returns one real job's id and the seconds taken."""
    started = time.perf_counter()
    app.task(TASK, lambda data: {"rows": data, "status": "ok"})
    app.start()
    handles = app.get_task(TASK).dispatch_many(range(min(REAL_JOBS, jobs)))
    for handle in handles:
        handle.result(timeout=60)
    app.close(timeout=5)
    template: dict[Any, Any] = app.adapter.client.hgetall(app.adapter.keys.job(TASK, handles[0].id))
    completed, finished = app.adapter.keys.state_set(TASK, "completed"), int(template[b"finishedOn"])
    pipe = app.adapter.client.pipeline(transaction=False)
    for n in range(jobs - len(handles)):
        job_id = str(uuid.uuid4())
        pipe.hset(app.adapter.keys.job(TASK, job_id), mapping=template)
        pipe.zadd(completed, {job_id: finished - n})
        if n % PIPELINE == PIPELINE - 1:
            pipe.execute()
    pipe.execute()
    return handles[0].id, time.perf_counter() - started


def serve(app: Taskora) -> tuple[uvicorn.Server, threading.Thread, int]:
    config = uvicorn.Config(create_board(app, auth=PASSWORD), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, int(port)


def timed(client: httpx.Client, path: str, repeats: int) -> tuple[float, float]:
    """Median and p95 of ``repeats`` GETs of ``path``, in ms (after one warm-up)."""
    client.get(path).raise_for_status()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with RedisServer() as redis_server:
        app = Taskora(redis_server.url)
        job_id, fill_s = fill(app, args.jobs)
        memory = app.adapter.client.info("memory")["used_memory_human"]
        server, thread, port = serve(app)
        pages = {"page (HTML)": "/", "overview": "/api/overview",
                 "task, completed, first page": f"/api/tasks/{TASK}/jobs?state=completed&limit=50",
                 "task, completed, middle page": f"/api/tasks/{TASK}/jobs?state=completed&limit=50"
                                                 f"&offset={args.jobs // 2}",
                 "job detail": f"/api/jobs/{job_id}", "dead letters": "/api/dlq"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            client.post("/api/login", json={"password": PASSWORD}).raise_for_status()
            print(f"{args.jobs:,} completed jobs (filled in {fill_s:.1f} s, Redis {memory}); "
                  f"{args.repeats} requests each\n")
            print("| request | median ms | p95 ms |\n|---|---:|---:|")
            for name, path in pages.items():
                median, p95 = timed(client, path, args.repeats)
                print(f"| {name} | {median:.1f} | {p95:.1f} |")
        server.should_exit = True
        thread.join(10)


if __name__ == "__main__":
    main()
