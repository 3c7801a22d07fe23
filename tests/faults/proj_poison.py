"""A project whose handlers kill their own process, for the fault tests (``-A tests.faults.proj_poison``).

Every run is recorded in Redis (``runs:<job id>`` gets ``<pid>:<attempt>``) before the handler does
what its ``how`` says, so a test counts executions across process deaths.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from typing import Any

import redis

from taskora import Taskora

URL = os.environ.get("TASKORA_TEST_URL", "redis://127.0.0.1:1/0")
app = Taskora(URL, name="proj_poison")
_runs = redis.Redis.from_url(URL)

#: A poison job gets three attempts, retried at once; its worker's death is each attempt's failure.
RETRY = {"attempts": 3, "delay": 0, "jitter": False}


def _die(how: str) -> None:
    if how == "abort":
        os.abort()
    elif how == "segfault":
        ctypes.string_at(0)
    elif how == "exit0":
        os._exit(0)
    elif how == "sysexit":
        sys.exit(3)


@app.task("poison", retry=RETRY)
def poison(data: dict[str, Any], ctx: Any) -> str:
    started = _runs.rpush(f"runs:{ctx.id}", f"{os.getpid()}:{ctx.attempt}")
    _die(data["how"])
    if data["how"] == "hang" and started < data.get("until_run", 10**9):  # blocks until the test kills us
        time.sleep(120)
    if data["how"] == "slow":  # alive and busy, longer than a liveness key lasts without a beat
        time.sleep(data["seconds"])
    if data["how"] == "gil":  # one C call that holds the GIL for seconds: no thread of this process runs meanwhile
        sum(range(data["n"]))
    return "survived"


@app.task("innocent", retry=RETRY)
def innocent(data: Any, ctx: Any) -> int:
    _runs.rpush(f"runs:{ctx.id}", f"{os.getpid()}:{ctx.attempt}")
    if isinstance(data, dict):  # {"seconds": s}: busy for a while, so a poison job dies beside it
        time.sleep(data["seconds"])
    return os.getpid()


@app.task("durable", stall={"max_lost": None})
def durable(data: dict[str, Any], ctx: Any) -> str:
    """Kills its process until its ``until_run``-th run; redelivered however often its worker is lost."""
    if _runs.rpush(f"runs:{ctx.id}", f"{os.getpid()}:{ctx.attempt}") < data["until_run"]:
        _die(data["how"])
    return "done"
