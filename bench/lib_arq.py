"""The arq side: ``ArqRedis.enqueue_job`` on its own event loop, workers ``python -m bench.arq_app``.

arq has no bulk enqueue (each job is its own WATCH/MULTI transaction), so the bulk scenario says
so. A worker is one process running up to ``max_jobs`` coroutines: threads c=N maps onto
``max_jobs=N``, and prefork c=2 onto two one-slot worker processes started together.
"""

from __future__ import annotations

import importlib
import shlex
import sys

from .async_driver import AsyncDriver
from .unsupported import Unsupported, hybrid_slots


class ArqDriver(AsyncDriver):
    """Dispatch, result waits, verification and the worker command of bench/arq_app.py."""

    name = "arq"
    app_module = "bench.arq_app"

    def __init__(self) -> None:
        super().__init__()
        from arq import create_pool

        self.module = importlib.import_module(self.app_module)
        self.pool = self.run(create_pool(self.module.WorkerSettings.redis_settings))

    async def adispatch(self, payload: dict):
        return await self.pool.enqueue_job("bench-noop", payload)

    def dispatch_delayed(self, payload: dict, seconds: float):
        return self.run(self.pool.enqueue_job("bench-noop", payload, _defer_by=seconds))

    def dispatch_flaky(self, payload: dict):
        """A job of the retries scenario (fails twice, then succeeds)."""
        return self.run(self.pool.enqueue_job("bench-flaky", payload))

    def verify_retries(self, handles: list, timeout: float) -> None:
        self.verify(handles, timeout)  # one queue for both functions

    def workflow(self, shape: str, n: int):
        raise Unsupported("no workflows")

    def can_batch(self) -> bool:
        return False

    def dispatch_batch(self, payloads: list[dict]) -> list:
        raise Unsupported("no bulk enqueue")

    def result(self, handle, timeout: float) -> None:
        if not self.module.KEEP_RESULT_S:
            raise Unsupported("results ignored")
        self.run(handle.result(timeout=timeout, poll_delay=0.001))

    def verify(self, handles: list, timeout: float) -> None:
        """The queue empty and no job left in progress (arq's ``in-progress`` keys)."""
        self.run(self._verify(timeout))

    async def _verify(self, timeout: float) -> None:
        import asyncio

        from arq.constants import default_queue_name, in_progress_key_prefix

        deadline = self.loop.time() + timeout
        while True:
            queued = await self.pool.zcard(default_queue_name)
            running = [k async for k in self.pool.scan_iter(match=in_progress_key_prefix + "*")]
            if not queued and not running:
                return
            if self.loop.time() > deadline:
                raise TimeoutError(f"{queued} queued and {len(running)} in progress after {timeout:.0f}s")
            await asyncio.sleep(0.01)

    @classmethod
    def worker_env(cls) -> dict[str, str]:
        return {}

    @classmethod
    def worker_argv(cls, pool: str, concurrency: int) -> list[str]:
        one = [sys.executable, "-m", cls.app_module]
        if pool not in ("prefork", "hybrid"):
            slots = 1 if pool == "solo" else concurrency
            return ["env", f"BENCH_CONCURRENCY={slots}", *one]
        processes, slots = (concurrency, 1) if pool == "prefork" else hybrid_slots(concurrency)
        each = f"BENCH_CONCURRENCY={slots} {shlex.join(one)}"
        return ["sh", "-c", " & ".join([each] * processes) + " & wait"]

    def close(self) -> None:
        self.run(self.pool.aclose())
        self.close_loop()
