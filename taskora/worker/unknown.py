"""Jobs sent under a task name no live worker knows: failed with ``UnknownTaskError``, as Celery's worker fails a
message of an unregistered task (``NotRegistered``, the ``task_unknown`` signal).

taskora workers claim by task name, so such a job would wait forever unseen. Every ``interval_s`` a worker process
looks, for each queue it consumes, at the task names producers noted for that queue (adapters/queue_index.py);
a name with waiting jobs that this app has no handler for, and that no live worker lists in the served-task
registry (worker/served.py: every ``taskora worker`` keeps its names there, so a worker of a newer deploy that has
it keeps its jobs, however busy it is), is unknown: each of its waiting jobs is claimed and failed (not retried),
logged with Celery's line, and announced as the app event ``worker:task-unknown``
(``{"name", "id", "queue", "hostname", "error"}``; the Celery front sends ``task_unknown`` from it).

A TypeScript worker writes no such registry, so a name only TypeScript workers serve is unknown here: route it
to a queue no ``taskora worker`` of this app consumes (migration_guide/api.md, ``task_unknown``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..adapters.base import CONNECTION_ERRORS
from ..errors import UnknownTaskError
from ..ids import lock_token
from .failures import error_detail, error_text
from .served import SERVED_TTL_S
from .threads import Periodic

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
        self._periodic = Periodic("taskora-unknown-tasks", self._look, interval_s,
                                  what="looking for jobs of unknown tasks")
        #: After Redis was unreachable, other workers' names may have lapsed meanwhile: no look until they beat.
        self._quiet_until = 0.0

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()

    def _look(self) -> None:
        if time.monotonic() < self._quiet_until:
            return
        try:
            self.check_once()
        except CONNECTION_ERRORS:
            self._quiet_until = time.monotonic() + SERVED_TTL_S
            raise

    def check_once(self) -> int:
        """One look; returns how many jobs were failed."""
        candidates = self._unknown_with_waiting_jobs()
        if not candidates:
            return 0
        known = self.app.adapter.served_by_live_workers()
        return sum(self._fail_waiting(name, queue) for name, queue in candidates.items() if name not in known)

    def _unknown_with_waiting_jobs(self) -> dict[str, str]:
        adapter, found = self.app.adapter, {}
        for queue in self.queues():
            for name in adapter.queue_tasks(queue):
                task = self.app.tasks.get(name)
                if (task is None or task.handler is None) and adapter.counts(name)["waiting"]:
                    found[name] = queue
        return found

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
