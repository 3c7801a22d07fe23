"""A Celery-style project for the canvas tests through ``taskora worker -A`` subprocesses.

The broker comes from ``CANVAS_BROKER_URL``; callbacks and errbacks record what they saw (with the
pid of the process that ran them) in the Redis list ``canvas:seen`` so the test can read it.
"""

from __future__ import annotations

import json
import os

import redis
from taskora.compat import Celery

BROKER = os.environ.get("CANVAS_BROKER_URL", "redis://127.0.0.1:6379/0")
SEEN = "canvas:seen"

app = Celery("canvas_proj_worker", broker=BROKER)


def _record(kind: str, **values: object) -> None:
    entry = {"kind": kind, "pid": os.getpid(), **values}
    redis.Redis.from_url(BROKER).rpush(SEEN, json.dumps(entry, default=str))


@app.task
def add(x, y):
    return x + y


@app.task
def mul(x, y):
    return x * y


@app.task
def tsum(xs):
    return sum(xs)


@app.task
def fail(*args):
    raise KeyError("bad key")


@app.task
def record(value, label):
    """A link callback: gets the parent's return value prepended."""
    _record("link", value=value, label=label)
    return value


@app.task
def on_error(request, exc, traceback):
    """A new-style errback: called inline in the failing worker."""
    _record("errback-new", id=request.id, exc=type(exc).__name__, message=str(exc))


@app.task
def on_error_old(task_id):
    """An old-style errback: sent as a task with the failed task's id."""
    _record("errback-old", id=task_id)
