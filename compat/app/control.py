"""``app.control``: revoke, purge and inspect, answered from the job store.

Celery broadcasts control commands to live workers. taskora's jobs live in Redis, so most answers
come from there: ``revoke`` cancels the job itself (a waiting/delayed job ends REVOKED at once, a
running one is aborted through its worker; ``terminate=True`` asks the same, and a prefork worker may
kill the child), ``purge`` deletes waiting and delayed jobs, and ``inspect()`` reports the active,
scheduled and waiting jobs of this app's tasks under one node name, the store. When the native app
offers a worker control channel (``control`` attribute), inspect calls are delegated to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["Control", "Inspect"]

#: The node name used for answers read from the job store.
STORE_NODE = "taskora@store"


class Control:
    """Remote control of the app's workers (celery-surface §1.7)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def revoke(self, task_id: str | Iterable[str], destination: Any = None, terminate: bool = False,
               signal: str = "SIGTERM", **kwargs: Any) -> None:  # fmt: skip
        """Cancel the job(s): REVOKED at once when not started, aborted through the worker when running."""
        from ..result import AsyncResult

        ids = [task_id] if isinstance(task_id, str) else list(task_id)
        for job_id in ids:
            handle = AsyncResult(job_id, app=self.app)._handle()
            if handle is not None:
                handle.cancel("terminated" if terminate else "revoked")

    def terminate(self, task_id: str | Iterable[str], destination: Any = None, signal: str = "SIGTERM",
                  **kwargs: Any) -> None:  # fmt: skip
        self.revoke(task_id, destination=destination, terminate=True, signal=signal, **kwargs)

    def purge(self, connection: Any = None) -> int:
        """Delete every waiting and delayed job of this app's tasks; returns how many."""
        native = self.app.__taskora_app__
        return sum(native.adapter.purge(name) for name in list(native.tasks))

    discard_all = purge

    def inspect(self, destination: Any = None, timeout: float = 1.0, callback: Any = None, connection: Any = None,
                limit: Any = None, pattern: Any = None, matcher: Any = None) -> Inspect:  # fmt: skip
        return Inspect(self.app, destination=destination, timeout=timeout)

    def ping(self, destination: Any = None, timeout: float = 1.0, **kwargs: Any) -> Any:
        return self.inspect(destination=destination, timeout=timeout).ping()


class Inspect:
    """``app.control.inspect()``: each method returns ``{node: data}``, or None when nobody answers."""

    def __init__(self, app: Any, destination: Any = None, timeout: float = 1.0) -> None:
        self.app = app
        self.destination = destination
        self.timeout = timeout

    def _delegate(self, method: str, *args: Any) -> tuple[bool, Any]:
        channel = getattr(self.app.__taskora_app__, "control", None)
        target = getattr(channel, method, None)
        if target is None:
            return False, None
        return True, target(*args, destination=self.destination, timeout=self.timeout)

    def _jobs(self, state: str) -> list[dict[str, Any]]:
        native = self.app.__taskora_app__
        entries = []
        for engine_name in list(native.tasks):
            for job_id in native.adapter.list_ids(engine_name, state):
                entries.append(self._entry(native, engine_name, job_id))
        return entries

    def _entry(self, native: Any, engine_name: str, job_id: str) -> dict[str, Any]:
        from ..result import AsyncResult

        result = AsyncResult(job_id, app=self.app, engine_task=engine_name)
        return {"id": job_id, "name": result.name or engine_name, "args": result.args, "kwargs": result.kwargs,
                "type": result.name or engine_name, "hostname": STORE_NODE, "time_start": None,
                "acknowledged": True, "delivery_info": {"routing_key": result.queue}, "worker_pid": None}

    def _answer(self, method: str, state: str | None) -> Any:
        delegated, value = self._delegate(method)
        if delegated:
            return value
        entries = self._jobs(state) if state else []
        return {STORE_NODE: entries}

    def active(self, safe: Any = None) -> Any:
        return self._answer("active", "active")

    def scheduled(self, safe: Any = None) -> Any:
        delegated, value = self._delegate("scheduled")
        if delegated:
            return value
        return {STORE_NODE: [{"eta": None, "priority": None, "request": e} for e in self._jobs("delayed")]}

    def reserved(self, safe: Any = None) -> Any:
        return self._answer("reserved", "waiting")

    def revoked(self) -> Any:
        return self._answer("revoked", "cancelled")

    def registered(self, *taskinfoitems: Any) -> Any:
        delegated, value = self._delegate("registered")
        if delegated:
            return value
        return {STORE_NODE: sorted(n for n in self.app.tasks if not n.startswith("celery."))}

    registered_tasks = registered

    def ping(self, destination: Any = None) -> Any:
        delegated, value = self._delegate("ping")
        return value if delegated else None

    def stats(self) -> Any:
        delegated, value = self._delegate("stats")
        return value if delegated else None
