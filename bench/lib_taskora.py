"""The native taskora side, written against the API of SPEC §4 (``Taskora``, ``@app.task``,
``dispatch``/``dispatch_many`` returning ``ResultHandle``s, ``taskora worker -A``).

Kept apart from the Celery side on purpose: the harness imports this module only when the
``taskora`` library is selected, and skips the library with a one-line notice if the import fails
(for example while taskora's core does not exist yet).
"""

from __future__ import annotations

import importlib
import time

import redis

from .unsupported import NO_HYBRID, Unsupported
from .workers import taskora_cli_argv

TASK_NAME = "bench-noop"
FLAKY_TASK_NAME = "bench-flaky"  # the retries scenario's task
STEP_TASK_NAME = "bench-step"  # the workflows scenario's node


class TaskoraDriver:
    """Dispatch, bulk dispatch, result waits and the worker command of the native benchmark app."""

    name = "taskora"
    app_module = "bench.taskora_app"

    def __init__(self) -> None:
        module = importlib.import_module(self.app_module)
        self.app = module.app
        self.task = module.noop
        self.flaky = module.flaky
        self.step = module.step
        self.redis_url = module.REDIS_URL

    def dispatch(self, payload: dict):
        return self.task.dispatch(payload)

    def dispatch_in_background(self, payloads: list[dict]) -> None:
        """One ``dispatch`` per payload with ``background_dispatch`` on (each returns before Redis has its job),
        then ``app.flush()``, which returns once every job is in Redis."""
        self.app.background_dispatch = True
        try:
            for payload in payloads:
                self.task.dispatch(payload)
            self.app.flush()
        finally:
            self.app.background_dispatch = False

    def jobs_waiting(self) -> int:
        return jobs_waiting(self.redis_url)

    def dispatch_batch(self, payloads: list[dict]) -> list:
        """``dispatch_many``: the whole batch in one pipeline round trip."""
        return self.task.dispatch_many(payloads)

    def dispatch_delayed(self, payload: dict, seconds: float):
        return self.task.dispatch(payload, delay=seconds)

    def dispatch_flaky(self, payload: dict):
        """A job of the retries scenario (fails twice, then succeeds)."""
        return self.flaky.dispatch(payload)

    def workflow(self, shape: str, n: int):
        """A chain of n nodes, a group of n, or a chord of n into one body, dispatched in one call."""
        from taskora import chain, chord, group

        if shape == "chain":
            return chain(self.step.s({"i": 0}), *(self.step.s() for _ in range(n - 1))).dispatch()
        members = [self.step.s({"i": k}) for k in range(n)]
        return (group(*members) if shape == "group" else chord(members, self.step.s())).dispatch()

    def verify_workflow(self, timeout: float) -> None:
        verify_drained(self.redis_url, timeout, STEP_TASK_NAME)

    def can_batch(self) -> bool:
        return True

    def result(self, handle, timeout: float) -> None:
        handle.result(timeout=timeout)

    def verify(self, handles: list, timeout: float) -> None:
        verify_drained(self.redis_url, timeout)

    def verify_retries(self, handles: list, timeout: float) -> None:
        verify_drained(self.redis_url, timeout, FLAKY_TASK_NAME)

    @classmethod
    def worker_argv(cls, pool: str, concurrency: int) -> list[str]:
        if pool == "hybrid":  # a prefork child has one slot
            raise Unsupported(NO_HYBRID)
        return taskora_cli_argv() + ["worker", "-A", cls.app_module, "-P", pool,
                                     "-c", str(concurrency), "-l", "warning"]

    def close(self) -> None:
        self.app.close()


def jobs_waiting(redis_url: str, task: str = TASK_NAME) -> int:
    """The jobs of ``task`` waiting in Redis (its wait list and priority set, wireVersion 6)."""
    client = redis.Redis.from_url(redis_url)
    try:
        return client.llen(f"taskora:{{{task}}}:wait") + client.zcard(f"taskora:{{{task}}}:prioritized")
    finally:
        client.close()


def verify_drained(redis_url: str, timeout: float, task: str = TASK_NAME) -> None:
    """Nothing left waiting, active or delayed, and nothing failed.

    Read from the wire layout (wireVersion 6) rather than through the handles because taskora's
    default retention keeps only the last 100 completed jobs (none with ``keep_result=False``), so
    most handles' jobs are gone by design once the run is over. taskora's Celery front uses the
    same layout, so its driver verifies with this too when results are ignored.
    """
    prefix = f"taskora:{{{task}}}"
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            pipe = client.pipeline(transaction=False)
            pipe.llen(f"{prefix}:wait").zcard(f"{prefix}:prioritized").llen(f"{prefix}:active")
            pipe.zcard(f"{prefix}:delayed").zcard(f"{prefix}:failed")
            wait, prioritized, active, delayed, failed = pipe.execute()
            if failed:
                raise RuntimeError(f"{failed} jobs failed")
            if wait + prioritized + active + delayed == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still pending after {timeout:.0f}s "
                                   f"(wait {wait}, prioritized {prioritized}, active {active}, "
                                   f"delayed {delayed})")
            time.sleep(0.01)
    finally:
        client.close()
