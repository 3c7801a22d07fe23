"""What the running-budget tests' handlers record, and how the tests read it back.

A handler marks ``started-<tag>`` as it starts, works ``seconds``, then writes ``run-<tag>-<uuid>.json``
(task, pid, start, end; wall-clock times, comparable across processes), one file per run, each written
aside and renamed.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any


def _write(directory: str, name: str, text: str) -> None:
    aside = Path(directory, f".{name}.{os.getpid()}")
    aside.write_text(text)
    aside.replace(Path(directory, name))


def record(task: str, data: dict[str, Any]) -> int:
    """The handler body: mark the start, work ``data["seconds"]``, record the run; returns the pid."""
    directory = os.environ["TASKORA_TEST_DIR"]
    start = time.time()
    _write(directory, f"started-{data['tag']}", str(start))
    time.sleep(float(data.get("seconds", 0)))  # the work itself: a handler that takes this long
    run = {"task": task, "tag": data["tag"], "pid": os.getpid(), "start": start, "end": time.time()}
    _write(directory, f"run-{data['tag']}-{uuid.uuid4().hex}.json", json.dumps(run))
    return os.getpid()


def runs(directory: Path) -> list[dict[str, Any]]:
    """Every recorded run, by start time."""
    found = [json.loads(p.read_text()) for p in directory.glob("run-*.json")]
    return sorted(found, key=lambda r: r["start"])


def most_at_once(recorded: list[dict[str, Any]]) -> int:
    """The largest number of runs that overlapped in time."""
    edges = sorted([(r["start"], 1) for r in recorded] + [(r["end"], -1) for r in recorded])
    most = now = 0
    for _when, step in edges:  # an end and a start at the same instant: the end sorts first (-1 < 1)
        now += step
        most = max(most, now)
    return most
