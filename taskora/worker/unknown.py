"""Jobs sent under a task name no live worker knows: failed with ``UnknownTaskError``, as Celery's worker fails a
message of an unregistered task (``NotRegistered``, the ``task_unknown`` signal).

taskora workers claim by task name, so such a job would wait forever unseen. Every ``interval_s`` a worker process
looks, for each queue it consumes, at the task names producers noted for that queue (adapters/queue_index.py);
a name with waiting jobs that this app has no handler for, and that no live worker lists in ``registered`` (so a
worker of a newer deploy that has it keeps its jobs), is unknown: each of its waiting jobs is claimed and failed
(not retried), logged with Celery's line, and announced as the app event ``worker:task-unknown``
(``{"name", "id", "queue", "hostname", "error"}``; the Celery front sends ``task_unknown`` from it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..adapters.base import CONNECTION_ERRORS
from ..errors import UnknownTaskError
from ..ids import lock_token
from .control import broadcast
from .failures import error_detail, error_text

if TYPE_CHECKING:
    from ..app import Taskora

log = logging.getLogger("taskora.worker")

#: How often a worker looks for jobs of unknown task names on its queues.
CHECK_EVERY_S = 5.0
#: Celery's log line for a message of an unregistered task.
UNKNOWN_LINE = "Received unregistered task of type %r.\nThe message has been ignored and discarded."


class UnknownTasks:
    """Finds and fails the waiting jobs of unknown task names on the queues ``queues()`` returns."""

    def __init__(self, app: Taskora, queues: Callable[[], list[str]], hostname: str, *,
                 interval_s: float = CHECK_EVERY_S) -> None:  # fmt: skip
        self.app = app
        self.queues = queues
        self.hostname = hostname
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="taskora-unknown-tasks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_once()
            except CONNECTION_ERRORS as exc:  # the next look, once Redis is back
                log.debug("looking for jobs of unknown tasks failed: %s", exc)

    def check_once(self) -> int:
        """One look; returns how many jobs were failed."""
        candidates = self._unknown_with_waiting_jobs()
        if not candidates:
            return 0
        known = self._registered_by_live_workers()
        return sum(self._fail_waiting(name, queue) for name, queue in candidates.items() if name not in known)

    def _unknown_with_waiting_jobs(self) -> dict[str, str]:
        adapter, found = self.app.adapter, {}
        for queue in self.queues():
            for name in adapter.queue_tasks(queue):
                task = self.app.tasks.get(name)
                if (task is None or task.handler is None) and adapter.counts(name)["waiting"]:
                    found[name] = queue
        return found

    def _registered_by_live_workers(self) -> set[str]:
        replies = broadcast(self.app, "registered", timeout=1.0)
        return {name for reply in replies.values() if isinstance(reply, list) for name in reply}

    def _fail_waiting(self, name: str, queue: str) -> int:
        adapter, failed = self.app.adapter, 0
        while (job := adapter.claim(name, lock_token(), 30_000).job) is not None:
            error = UnknownTaskError(name)  # Celery's NotRegistered(name)
            adapter.fail(job, error_text(error), detail=error_detail(error))
            log.error(UNKNOWN_LINE, name)
            self.app.events.emit("worker:task-unknown", {"name": name, "id": job.id, "queue": queue,
                                                         "hostname": self.hostname, "error": error})
            failed += 1
        return failed
