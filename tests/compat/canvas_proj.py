"""Tasks for the canvas tests (a Celery-style project on taskora.compat)."""

from __future__ import annotations

from taskora.compat.app.base import Celery

app = Celery("canvas_proj", broker="memory://")


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
