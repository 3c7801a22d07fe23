"""Which task names were sent to each queue: one set per queue, ``<root>:queue-tasks:<queue>``.

A producer notes each engine task name the first time it sends to a queue (once per name per process), so a
worker consuming that queue can find jobs sent under a name it does not know (taskora/worker/unknown.py):
taskora workers claim by task name and would otherwise never meet such a job, while a Celery worker receives it
and reports it (``task_unknown``, ``NotRegistered``). An additive key: nothing else reads or writes it.
"""

from __future__ import annotations

from .core import RedisCore
from .replies import _text


class QueueIndexOps(RedisCore):
    """Reads and writes of the queue index (see the module docstring)."""

    def queue_tasks_key(self, queue: str) -> str:
        return f"{self.keys.root}:queue-tasks:{queue}"

    def note_queue_task(self, queue: str, task: str) -> None:
        """Record that jobs of engine task ``task`` are sent to ``queue``."""
        self.client.sadd(self.queue_tasks_key(queue), task)

    def queue_tasks(self, queue: str) -> set[str]:
        """Every engine task name ever noted for ``queue``."""
        return {_text(name) for name in self.client.smembers(self.queue_tasks_key(queue))}
