"""The benchmark's native taskora project: the same no-op task as bench/celery_app.py.

Kept as close as possible to the Celery app (same task name, same handler body, same Redis URL
variable) so that the only difference measured is the library. taskora's defaults are used as they
are; see bench/README.md.
"""

import os
import time

from taskora import Taskora

from .stamps import stamp

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

app = Taskora(REDIS_URL)


@app.task("bench-noop")
def noop(data):
    started_at = time.time()
    stamp(data, started_at)
    return None
