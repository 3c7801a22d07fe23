"""The Taskiq side: ``task.kiq`` on its own event loop, workers ``taskiq worker``.

Taskiq has no bulk enqueue (``kiq`` sends one message), so the bulk scenario says so. Its worker
runs ``--workers`` processes of ``--max-async-tasks`` coroutines each: threads c=N maps onto one
process of N tasks, prefork c=2 onto two processes of one.
"""

from __future__ import annotations

import importlib
import sys

from .async_driver import AsyncDriver
from .unsupported import Unsupported, hybrid_slots


class TaskiqDriver(AsyncDriver):
    """Dispatch, result waits, verification and the worker command of bench/taskiq_app.py."""

    name = "taskiq"
    app_module = "bench.taskiq_app"

    def __init__(self) -> None:
        super().__init__()
        self.module = importlib.import_module(self.app_module)
        self.run(self.module.broker.startup())

    async def adispatch(self, payload: dict):
        return await self.module.noop.kiq(payload)

    def dispatch_flaky(self, payload: dict):
        """A job of the retries scenario (fails twice, then succeeds)."""
        return self.run(self.module.flaky.kiq(payload))

    def verify_retries(self, handles: list, timeout: float) -> None:
        self.verify(handles, timeout)  # one list for both tasks

    def workflow(self, shape: str, n: int):
        raise Unsupported("no workflows (taskiq-pipelines is a separate package)")

    def can_batch(self) -> bool:
        return False

    def dispatch_batch(self, payloads: list[dict]) -> list:
        raise Unsupported("no bulk enqueue")

    def result(self, handle, timeout: float) -> None:
        from .appenv import STORE_RESULTS

        if not STORE_RESULTS:
            raise Unsupported("results ignored")
        result = self.run(handle.wait_result(check_interval=0.001, timeout=timeout))
        if result.is_err:
            raise RuntimeError(f"task {handle.task_id} failed: {result.error}")

    def verify(self, handles: list, timeout: float) -> None:
        """The queue list empty (a ListQueueBroker keeps nothing else about a message)."""
        import redis

        from .workers import wait_until

        client = redis.Redis.from_url(self.module.REDIS_URL)
        try:
            wait_until(lambda: client.llen(self.module.QUEUE) == 0, timeout, "Taskiq queue not empty")
        finally:
            client.close()

    @classmethod
    def worker_env(cls) -> dict[str, str]:
        return {}

    @classmethod
    def worker_argv(cls, pool: str, concurrency: int) -> list[str]:
        workers, tasks = {"solo": (1, 1), "threads": (1, concurrency), "prefork": (concurrency, 1),
                          "hybrid": hybrid_slots(concurrency)}[pool]
        return [sys.executable, "-m", "taskiq", "worker", f"{cls.app_module}:broker",
                "--workers", str(workers), "--max-async-tasks", str(tasks), "--log-level", "WARNING"]

    def close(self) -> None:
        self.run(self.module.broker.shutdown())
        self.close_loop()
