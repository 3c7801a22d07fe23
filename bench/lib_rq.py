"""The RQ side: ``Queue.enqueue``, ``Queue.enqueue_many`` (one pipeline) and ``rq worker``.

RQ runs one job at a time per worker process: it has no thread or async pool, so the threads c=100
scenario says so, and the worker-pool command (``rq worker-pool -n 2``) stands for prefork c=2.
``SimpleWorker`` runs jobs in the worker process instead of forking a child per job (the default
``Worker``), which is what RQ's docs suggest when throughput matters more than isolation.
"""

from __future__ import annotations

import importlib
import sys
import time

from .unsupported import NO_HYBRID, Unsupported

WORKER_CLASS = "rq.worker.SimpleWorker"


class RQDriver:
    """Dispatch, bulk dispatch, result waits, verification and the worker command of bench/rq_app.py."""

    name = "rq"
    app_module = "bench.rq_app"

    def __init__(self) -> None:
        self.module = importlib.import_module(self.app_module)
        self.queue = self.module.queue

    def dispatch(self, payload: dict):
        return self.queue.enqueue(self.module.noop, payload, result_ttl=self.module.RESULT_TTL)

    def dispatch_flaky(self, payload: dict):
        """A job of the retries scenario: RQ's retry policy is given at enqueue, two retries, no interval."""
        from rq import Retry

        return self.queue.enqueue(self.module.flaky, payload, retry=Retry(max=2),
                                  result_ttl=self.module.RESULT_TTL)

    def verify_retries(self, handles: list, timeout: float) -> None:
        self.verify(handles, timeout)  # one queue, one failed-job registry

    def workflow(self, shape: str, n: int):
        raise Unsupported("no workflows (dependencies order jobs but pass no results)")

    def can_batch(self) -> bool:
        return True

    def dispatch_batch(self, payloads: list[dict]) -> list:
        """``enqueue_many`` with its jobs prepared first: one Redis pipeline for the batch."""
        data = [self.queue.prepare_data(self.module.noop, (p,), result_ttl=self.module.RESULT_TTL)
                for p in payloads]
        return self.queue.enqueue_many(data)

    def result(self, handle, timeout: float) -> None:
        if not self.module.RESULT_TTL:
            raise Unsupported("results ignored")
        result = handle.latest_result(timeout=max(1, int(timeout)))
        if result is None:
            raise TimeoutError(f"no result for job {handle.id} within {timeout:.0f}s")
        if result.type != result.Type.SUCCESSFUL:
            raise RuntimeError(f"job {handle.id} ended as {result.type.name}")

    def verify(self, handles: list, timeout: float) -> None:
        """The queue empty, nothing started left over, nothing failed."""
        from rq.registry import FailedJobRegistry, StartedJobRegistry

        deadline = time.monotonic() + timeout
        started = StartedJobRegistry(queue=self.queue)
        while self.queue.count or started.count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.queue.count} queued and {started.count} started after {timeout:.0f}s")
            time.sleep(0.01)
        failed = FailedJobRegistry(queue=self.queue).count
        if failed:
            raise RuntimeError(f"{failed} jobs failed")

    @classmethod
    def worker_env(cls) -> dict[str, str]:
        return {}

    @classmethod
    def worker_argv(cls, pool: str, concurrency: int) -> list[str]:
        from .appenv import REDIS_URL

        common = ["-w", WORKER_CLASS, "-u", REDIS_URL]
        if pool == "hybrid":
            raise Unsupported(NO_HYBRID)
        if pool == "prefork":
            return [sys.executable, "-m", "rq.cli", "worker-pool", "-n", str(concurrency), *common,
                    "--logging-level", "WARNING", "bench"]
        if pool == "threads" and concurrency > 10:
            raise Unsupported("no thread pool")
        # solo, and the 10-slot worker of the latency and memory scenarios: one worker process
        return [sys.executable, "-m", "rq.cli", "worker", *common, "--logging_level", "WARNING", "bench"]

    def close(self) -> None:
        self.module.connection.close()
