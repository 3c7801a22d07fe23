"""JobRuntime: one claimed job while a worker runs it (its signal, heartbeat, progress, logs)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ..context import AbortSignal, log_entry

if TYPE_CHECKING:
    from ..adapters.base import Adapter, ClaimedJob
    from ..serialization import Serializer
    from ..task import Task

log = logging.getLogger("taskora.worker")


class JobRuntime:
    """Everything the worker tracks for a job it holds; the handler sees it through ``Context``."""

    def __init__(self, task: Task[Any, Any], claimed: ClaimedJob, adapter: Adapter, serializer: Serializer,
                 lock_ttl_ms: int) -> None:  # fmt: skip
        fields = claimed.fields
        self.task = task
        self.task_name = task.name
        self.claimed = claimed
        self.id = claimed.id
        self.attempt = int(fields.get("attempt", 1))
        stored = fields.get("maxAttempts")  # none on the jobs of a task whose attempts have no bound
        self.max_attempts = task.options.retry.attempts if stored is None else int(stored)
        self.timestamp = int(fields.get("ts", 0))
        self.version = int(fields.get("_v", 1))
        self.signal = AbortSignal()
        self.started = time.monotonic()
        self._adapter = adapter
        self._serializer = serializer
        self._lock_ttl_ms = lock_ttl_ms

    @property
    def fields(self) -> dict[str, Any]:
        return self.claimed.fields

    def decode_data(self) -> Any:
        raw = self.claimed.fields.get("data")
        return None if raw is None else self._serializer.loads(raw)

    def check_serializable(self, value: Any) -> None:
        self._serializer.dumps(value)

    def encode(self, value: Any) -> str | bytes:
        return self._serializer.dumps(value)

    def heartbeat(self) -> None:
        status = self._adapter.extend_locks([self.claimed], self._lock_ttl_ms)[0]
        self.apply_lock_status(status)

    def apply_lock_status(self, status: str) -> None:
        if status == "cancelled":
            self.signal.abort("cancelled")
        elif status == "lost":
            self.signal.abort("lost")

    def report_progress(self, value: Any) -> None:
        self._adapter.set_progress(self.task_name, self.id, self._serializer.dumps(value))

    def write_log(self, level: str, message: str, meta: dict[str, Any]) -> None:
        self._adapter.append_log(self.task_name, self.id,
                                 log_entry(level, message, meta, self._adapter.now_ms()))
        getattr(log, "warning" if level == "warn" else level)("[%s %s] %s %s", self.task_name, self.id, message,
                                                             meta or "")


def lock_ttl_ms(task: Task[Any, Any]) -> int:
    """How long a job of ``task`` stays locked without a heartbeat: its stall interval."""
    return int(task.options.stall.interval * 1000)
