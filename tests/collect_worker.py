"""A worker process for the collect crash test: ``python -m tests.collect_worker URL MODE``.

Task ``batchy`` collects under key ``k`` (max_size 5, delay 1 s). MODE ``hang``: the handler records its batch and
blocks (so the test can SIGKILL the process mid-batch); MODE ``quick``: it records the batch and returns
its size. Batches are recorded in Redis (``runs:<job id>``: ``pid|json``) so the test sees every run.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any

import redis

from taskora import Taskora

STALL = {"interval": 0.5, "max_count": 1}


def declare(app: Taskora, mode: str | None, url: str = "") -> Any:
    """The ``batchy`` task; with ``mode`` None, a producer's declaration (the handler never runs there)."""
    counter = redis.Redis.from_url(url) if mode else None

    def batchy(items: list[Any], ctx: Any) -> int:
        assert counter is not None
        counter.rpush(f"runs:{ctx.id}", f"{os.getpid()}|{json.dumps(items)}")
        if mode == "hang":
            threading.Event().wait(120)
        return len(items)

    return app.task("batchy", batchy, collect={"key": "k", "delay": "1s", "max_size": 5}, stall=STALL)


def runs(url: str, job_id: str) -> list[tuple[int, Any]]:
    """Each run of batch ``job_id``: (worker pid, the items it got)."""
    recorded = [r.decode().split("|", 1) for r in redis.Redis.from_url(url).lrange(f"runs:{job_id}", 0, -1)]
    return [(int(pid), json.loads(items)) for pid, items in recorded]


def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    app = Taskora(url)
    declare(app, mode, url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app.start()
    print("ready", flush=True)
    stop.wait()
    app.close(timeout=5)


if __name__ == "__main__":
    main()
