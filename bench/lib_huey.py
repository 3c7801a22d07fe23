"""The Huey side: calling the task enqueues it; the ``huey_consumer`` command runs it.

Huey has no bulk enqueue (each call is one LPUSH), so the bulk scenario says so. Its consumer has
a thread and a process worker type, which map onto the threads and prefork scenarios directly.
"""

from __future__ import annotations

import importlib
import sys
import time

from .unsupported import NO_HYBRID, Unsupported


class HueyDriver:
    """Dispatch, result waits, verification and the consumer command of bench/huey_app.py."""

    name = "huey"
    app_module = "bench.huey_app"

    def __init__(self) -> None:
        self.module = importlib.import_module(self.app_module)
        self.huey = self.module.huey

    def dispatch(self, payload: dict):
        return self.module.noop(payload)

    def dispatch_delayed(self, payload: dict, seconds: float):
        """Huey's schedule: its consumer moves due tasks to the queue every second (its default interval)."""
        return self.module.noop.schedule(args=(payload,), delay=seconds)

    def dispatch_flaky(self, payload: dict):
        """A job of the retries scenario (fails twice, then succeeds)."""
        return self.module.flaky(payload)

    def workflow(self, shape: str, n: int):
        """A chain of ``.then()`` pipes, each result passed on; ``group``; a chord is a group ``.then()``."""
        from huey.api import group

        step = self.module.step
        if shape == "chain":
            pipe = step.s({"i": 0})
            for _ in range(n - 1):
                pipe.then(step)  # appends at the end of the pipe; returns its head
            return self.huey.enqueue(pipe)
        members = group([step.s({"i": k}) for k in range(n)])
        return self.huey.enqueue(members if shape == "group" else members.then(step))

    def verify_workflow(self, timeout: float) -> None:
        self.verify([], timeout)

    def verify_retries(self, handles: list, timeout: float) -> None:
        self.verify(handles, timeout)  # both tasks share Huey's one queue

    def can_batch(self) -> bool:
        return False

    def dispatch_batch(self, payloads: list[dict]) -> list:
        raise Unsupported("no bulk enqueue")

    def result(self, handle, timeout: float) -> None:
        if handle is None or not self.huey.results:
            raise Unsupported("results ignored")
        handle.get(blocking=True, timeout=timeout)

    def verify(self, handles: list, timeout: float) -> None:
        """Nothing left in the queue (Huey keeps no record of a task in progress in Redis)."""
        deadline = time.monotonic() + timeout
        while self.huey.pending_count():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.huey.pending_count()} tasks still queued after {timeout:.0f}s")
            time.sleep(0.01)

    @classmethod
    def worker_env(cls) -> dict[str, str]:
        return {}

    @classmethod
    def worker_argv(cls, pool: str, concurrency: int) -> list[str]:
        if pool == "hybrid":
            raise Unsupported(NO_HYBRID)
        kind, workers = {"solo": ("thread", 1), "threads": ("thread", concurrency),
                         "prefork": ("process", concurrency)}[pool]
        # -q: warnings only (Huey logs every task at INFO); -n: no periodic-task scheduler;
        # -C: no health-check thread; -d/-m: the short sleep after an empty blocking read
        return [sys.executable, "-m", "huey.bin.huey_consumer", f"{cls.app_module}.huey",
                "-k", kind, "-w", str(workers), "-q", "-n", "-C", "-d", "0.001", "-m", "0.01"]

    def close(self) -> None:
        self.huey.storage.conn.connection_pool.disconnect()
