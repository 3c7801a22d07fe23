"""A worker process for the crash-safety tests: ``python -m tests.crash_worker URL MODE``.

Optional third argument: the task's concurrency (slots in the process; 1 by default).
MODE ``hang``: the handler records its run and then blocks (so the test can kill the process
mid-job); MODE ``quick``: the handler records its run and returns. Runs count in Redis, so the
test sees every execution across processes. Exits 0 on SIGTERM after a warm stop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import redis

from taskora import Taskora

STALL = {"interval": 0.5, "max_count": 1}


def build(url: str, mode: str, concurrency: int = 1) -> Taskora:
    app = Taskora(url)
    counter = redis.Redis.from_url(url)

    def crashy(data, ctx):
        counter.rpush(f"runs:{ctx.id}", f"{os.getpid()}:{ctx.attempt}")
        if mode == "hang":
            threading.Event().wait(120)
        return {"done_by": os.getpid(), "data": data}

    app.task("crashy", crashy, stall=STALL, concurrency=concurrency)
    return app


def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    app = build(url, mode, int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app.start()
    print("ready", flush=True)
    stop.wait()
    app.close(timeout=5)


if __name__ == "__main__":
    main()
