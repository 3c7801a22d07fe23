"""The Celery API side: Celery 5.x itself, and taskora's Celery front on the very same code.

Both drivers run the same dispatch/result code against an app module that differs only in its
``Celery`` import (bench/celery_app.py, bench/compat_app.py); only the worker command differs
(``celery -A … worker`` versus ``taskora worker -A …``), as it does for a migrating project.
"""

from __future__ import annotations

import importlib
import sys
import time

from .unsupported import NO_HYBRID, Unsupported
from .workers import taskora_cli_argv, wait_until


class CeleryDriver:
    """Dispatch, bulk dispatch, result waits and the worker command of the Celery benchmark app."""

    name = "celery"
    app_module = "bench.celery_app"
    canvas_module = "celery"  # where chain, group and chord come from

    def __init__(self) -> None:
        module = importlib.import_module(self.app_module)
        self.app = module.app
        self.task = module.noop
        self.flaky = module.flaky
        self.step = module.step
        self.canvas = importlib.import_module(self.canvas_module)

    def dispatch(self, payload: dict):
        """One job the way most Celery code sends it."""
        return self.task.delay(payload)

    def dispatch_delayed(self, payload: dict, seconds: float):
        return self.task.apply_async((payload,), countdown=seconds)

    def dispatch_flaky(self, payload: dict):
        """A job of the retries scenario (fails twice, then succeeds)."""
        return self.flaky.delay(payload)

    def verify_retries(self, handles: list, timeout: float) -> None:
        self.verify(handles, timeout, task=self.flaky.name)

    def workflow(self, shape: str, n: int):
        """Celery's canvas: ``chain(...)``, ``group(...)``, ``chord(group, body)``, each sent with ``delay()``."""
        step, canvas = self.step, self.canvas
        if shape == "chain":
            return canvas.chain(step.s({"i": 0}), *(step.s() for _ in range(n - 1))).delay()
        members = canvas.group(step.s({"i": k}) for k in range(n))
        return (members if shape == "group" else canvas.chord(members, step.s())).delay()

    def verify_workflow(self, timeout: float) -> None:
        self.verify_drained(timeout, self.step.name)

    def dispatch_batch(self, payloads: list[dict]) -> list:
        """A batch through one producer (one pooled connection), with kombu's publish batch.

        ``Producer.batch()`` (kombu ≥ 5.7) buffers the LPUSHes of the batch in one Redis pipeline
        and flushes it when the block exits; on an older kombu the messages go out one by one on
        the same connection, which is still the fastest way Celery offers.
        """
        with self.app.producer_or_acquire() as producer:
            batch = getattr(producer, "batch", None)
            if batch is None:
                return [self.task.apply_async((p,), producer=producer) for p in payloads]
            with batch():
                return [self.task.apply_async((p,), producer=producer) for p in payloads]

    def can_batch(self) -> bool:
        """Whether the app has Celery's producer API (taskora's Celery front may not have it yet)."""
        return hasattr(self.app, "producer_or_acquire")

    def result(self, handle, timeout: float) -> None:
        """Block until the job's result is stored; re-raises the task's error."""
        handle.get(timeout=timeout)

    def verify(self, handles: list, timeout: float, task: str = "bench-noop") -> None:
        """Every job reached SUCCESS in the result backend (results are kept for a day).

        With results ignored there is no state to read: the broker's queue and its unacked
        messages must be empty instead.
        """
        if self.app.conf.task_ignore_result:
            self.verify_drained(timeout, task)
            return
        deadline = time.monotonic() + timeout
        pending = list(handles)
        while pending:
            state = pending[-1].state
            if state == "SUCCESS":
                pending.pop()
                continue
            if state in ("FAILURE", "REVOKED"):
                raise RuntimeError(f"job {pending[-1].id} ended in {state}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} jobs without a stored result after {timeout:.0f}s")
            time.sleep(0.01)

    def verify_drained(self, timeout: float, task: str) -> None:
        """Celery's one queue and its unacked messages empty (``task`` shares that queue)."""
        import redis

        client = redis.Redis.from_url(self.app.conf.broker_url)
        try:
            wait_until(lambda: client.llen("celery") + client.hlen("unacked") == 0, timeout,
                       "Celery queue or unacked messages not empty")
        finally:
            client.close()

    @classmethod
    def worker_argv(cls, pool: str, concurrency: int) -> list[str]:
        if pool == "hybrid":  # a prefork child runs one task at a time
            raise Unsupported(NO_HYBRID)
        argv = [sys.executable, "-m", "celery", "-A", cls.app_module, "worker", "-P", pool]
        if pool != "solo":
            argv += ["-c", str(concurrency)]
        return argv + ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"]

    def close(self) -> None:
        self.app.close()


class CompatDriver(CeleryDriver):
    """taskora's Celery front: the Celery code above, the app imported from ``taskora.compat``."""

    name = "compat"
    app_module = "bench.compat_app"
    canvas_module = "taskora.compat"

    def verify_drained(self, timeout: float, task: str) -> None:
        from .lib_taskora import verify_drained

        verify_drained(self.app.conf.broker_url, timeout, task)

    def dispatch_in_background(self, payloads: list[dict]) -> None:
        """``noop.delay(payload)`` per payload with ``taskora_background_dispatch`` on (each returns before Redis
        has its job), then a flush of the app underneath, which returns once every job is in Redis."""
        self.app.conf.taskora_background_dispatch = True
        try:
            for payload in payloads:
                self.task.delay(payload)
            self.app.__taskora_app__.flush()
        finally:
            self.app.conf.taskora_background_dispatch = False

    def jobs_waiting(self) -> int:
        from .lib_taskora import jobs_waiting

        return jobs_waiting(self.app.conf.broker_url)

    @classmethod
    def worker_argv(cls, pool: str, concurrency: int) -> list[str]:
        if pool == "hybrid":  # as in Celery, a prefork child runs one task at a time
            raise Unsupported(NO_HYBRID)
        return taskora_cli_argv() + ["worker", "-A", cls.app_module, "-P", pool,
                                     "-c", str(concurrency), "-l", "warning"]
