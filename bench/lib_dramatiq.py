"""The Dramatiq side: ``actor.send`` to a RedisBroker, the ``dramatiq`` worker command.

Dramatiq has no bulk enqueue (``group(...).run()`` sends its messages one by one), so the bulk
scenario says so. Its worker polls Redis with a backoff capped by ``dramatiq_worker_timeout``; the
environment of the worker sets that cap and the prefetch (see bench/README.md).
"""

from __future__ import annotations

import importlib
import sys

from .unsupported import Unsupported, hybrid_slots

WORKER_ENV = {
    "dramatiq_queue_prefetch": "1000",  # messages fetched per worker process per Redis round trip
    "dramatiq_worker_timeout": "100",  # ms: ceiling of the idle poll backoff (default 1000)
}


class DramatiqDriver:
    """Dispatch, result waits, verification and the worker command of bench/dramatiq_app.py."""

    name = "dramatiq"
    app_module = "bench.dramatiq_app"

    def __init__(self) -> None:
        self.module = importlib.import_module(self.app_module)
        self.task = self.module.noop

    def dispatch(self, payload: dict):
        return self.task.send(payload)

    def dispatch_delayed(self, payload: dict, seconds: float):
        return self.task.send_with_options(args=(payload,), delay=int(seconds * 1000))

    def dispatch_flaky(self, payload: dict):
        """A job of the retries scenario (fails twice, then succeeds)."""
        return self.module.flaky.send(payload)

    def workflow(self, shape: str, n: int):
        """``pipeline`` (each result piped to the next), ``group``; the chord is a group with a completion
        callback, which needs the Results middleware (results stored only) and does not get the results."""
        import dramatiq

        step = self.module.step
        if shape == "chain":
            return dramatiq.pipeline([step.message({"i": 0}), *(step.message() for _ in range(n - 1))]).run()
        members = dramatiq.group([step.message({"i": k}) for k in range(n)])
        if shape == "chord":
            if self.module.result_backend is None:
                raise Unsupported("a group's completion callback needs results stored")
            members.add_completion_callback(step.message({"i": -1}))
        return members.run()

    def verify_workflow(self, timeout: float) -> None:
        self.verify([], timeout)

    def verify_retries(self, handles: list, timeout: float) -> None:
        self.verify(handles, timeout)  # both actors share the queue and its dead-letter set

    def can_batch(self) -> bool:
        return False

    def dispatch_batch(self, payloads: list[dict]) -> list:
        raise Unsupported("no bulk enqueue")

    def result(self, handle, timeout: float) -> None:
        if self.module.result_backend is None:
            raise Unsupported("results ignored")
        handle.get_result(backend=self.module.result_backend, block=True, timeout=int(timeout * 1000))

    def verify(self, handles: list, timeout: float) -> None:
        """The queue (and its delay queue) drained and nothing dead-lettered."""
        broker = self.module.broker
        broker.join(self.module.QUEUE, timeout=int(timeout * 1000))
        dead = broker.client.zcard(f"dramatiq:{self.module.QUEUE}.XQ")
        if dead:
            raise RuntimeError(f"{dead} messages dead-lettered")

    @classmethod
    def worker_env(cls) -> dict[str, str]:
        return dict(WORKER_ENV)

    @classmethod
    def worker_argv(cls, pool: str, concurrency: int) -> list[str]:
        processes, threads = {"solo": (1, 1), "threads": (1, concurrency), "prefork": (concurrency, 1),
                              "hybrid": hybrid_slots(concurrency)}[pool]
        return [sys.executable, "-m", "dramatiq", cls.app_module, "-p", str(processes), "-t", str(threads)]

    def close(self) -> None:
        self.module.broker.close()
