"""The project the multi-process flow-control tests run ``taskora worker`` on (``-A tests.flow_claim_proj``).

The broker comes from ``TASKORA_TEST_URL``. Each run is recorded in Redis (``flow:started``), so the test
can see which worker process runs which job; a job may hold longer on its first run than on a re-run.
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis

from taskora import Taskora

URL = os.environ.get("TASKORA_TEST_URL", "redis://127.0.0.1:1/0")
app = Taskora(URL, name="flow_claim_proj")
_redis = redis.Redis.from_url(URL)

#: How long a worker that dies mid-job keeps the job (its lock) before the stall sweep may take it back.
STALL = {"interval": 1.0, "max_count": 5}


@app.task("tenant-job", concurrency_key=lambda data: data["tenant"], concurrency_limit=2, stall=STALL)
def tenant_job(data: dict[str, Any]) -> int:
    first_run = _redis.sadd("flow:seen", data["n"]) == 1
    _redis.rpush("flow:started", f"{data['n']}:{os.getpid()}")
    time.sleep(data["hold"] if first_run else data.get("hold_again", data["hold"]))
    return int(data["n"])
