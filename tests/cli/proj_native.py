"""A native taskora project the CLI tests run workers for (``-A tests.cli.proj_native``).

The broker comes from ``TASKORA_TEST_URL``; handlers that must be observed from the test process
write marker files under ``TASKORA_TEST_DIR``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from taskora import Taskora
from taskora.errors import SoftTimeLimitExceeded

app = Taskora(os.environ.get("TASKORA_TEST_URL", "redis://127.0.0.1:1/0"), name="proj_native")

if os.environ.get("TASKORA_TEST_HOLD_AHEAD_S"):  # a test that needs a job to stay claimed ahead meanwhile
    from taskora.worker import lookahead

    lookahead.RELEASE_AHEAD_AFTER_S = float(os.environ["TASKORA_TEST_HOLD_AHEAD_S"])
if os.environ.get("TASKORA_TEST_HOLD_COMPLETIONS_S"):  # a test that needs a batch's completions to wait
    from taskora.worker import batches

    batches.SEND_WAITING_AFTER_S = float(os.environ["TASKORA_TEST_HOLD_COMPLETIONS_S"])
if os.environ.get("TASKORA_TEST_BOARD_HALF_SIZE"):  # a test that needs a prefork child's running board to fill
    from taskora.worker import running_board

    running_board.HALF_SIZE = int(os.environ["TASKORA_TEST_BOARD_HALF_SIZE"])


def _mark(name: str, text: str = "") -> None:
    """Write a marker whole (written aside, then renamed): a test that sees it exist reads its text."""
    directory = os.environ.get("TASKORA_TEST_DIR")
    if directory:
        aside = Path(directory, f".{name}.{os.getpid()}")
        aside.write_text(text or str(os.getpid()))
        aside.replace(Path(directory, name))


@app.task("add")
def add(data: dict[str, int]) -> int:
    return data["a"] + data["b"]


@app.task("noop")
def noop(data: Any) -> None:
    return None


@app.task("whoami")
def whoami(data: Any) -> int:
    return os.getpid()


@app.task("gc_frozen")
def gc_frozen(data: Any) -> int:
    """How many objects the worker process froze out of the garbage collector's walks (worker/heap.py)."""
    import gc

    return gc.get_freeze_count()


@app.task("ids")
def ids(data: Any) -> list[int]:
    """The uid and gid the worker runs as (for --uid/--gid)."""
    return [os.getuid(), os.getgid()]


@app.task("slow", queue="slow")
def slow(data: dict[str, Any]) -> str:
    """Marks that it started, then works for ``seconds`` in small steps (so limits can interrupt it)."""
    _mark(f"started-{data['tag']}")
    deadline = time.monotonic() + float(data["seconds"])
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return f"done-{data['tag']}"


def careful(data: Any) -> str:
    """Catches its soft time limit and returns what it managed."""
    try:
        while True:
            time.sleep(0.02)
    except SoftTimeLimitExceeded:
        return "cleaned-up"


LIMITS = ("soft_time_limit", "time_limit")
app.register_task("careful", careful, allowed_extra=LIMITS, queue="slow", soft_time_limit=0.5, time_limit=30)


def stuck(data: Any) -> str:
    _mark("stuck-started")
    while True:
        time.sleep(0.05)


app.register_task("stuck", stuck, allowed_extra=LIMITS, queue="slow", time_limit=1)


@app.task("slow_async", queue="slow")
async def slow_async(data: dict[str, Any]) -> str:
    import asyncio

    await asyncio.sleep(float(data["seconds"]))
    return "async-done"


app.on("worker:process-init", lambda info: _mark(f"process-init-{info['index']}", info["pool"]))
app.on("worker:shutdown", lambda info: _mark("worker-shutdown", info["hostname"]))
