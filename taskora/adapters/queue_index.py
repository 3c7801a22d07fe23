"""Which task names were sent to each queue: one set per queue, ``<root>:queue-tasks:<queue>``, and one of every
name sent to any queue, ``<root>:sent-tasks``.

A producer notes each engine task name the first time it sends to a queue (once per name per process), so a
worker consuming that queue can find jobs sent under a name it does not know (taskora/worker/unknown.py):
taskora workers claim by task name and would otherwise never meet such a job, while a Celery worker receives it
and reports it (``task_unknown``, ``NotRegistered``). The union lets a process that never imported a task's module
find one of its jobs from the id alone, as Celery finds a result (compat/result.py). Additive keys: nothing else
reads or writes them.
"""

from __future__ import annotations

from .core import RedisCore
from .replies import _text


class QueueIndexOps(RedisCore):
    """Reads and writes of the queue index (see the module docstring)."""

    def queue_tasks_key(self, queue: str) -> str:
        return f"{self.keys.root}:queue-tasks:{queue}"

    def sent_tasks_key(self) -> str:
        return f"{self.keys.root}:sent-tasks"

    def note_queue_task(self, queue: str, task: str) -> None:
        """Record that jobs of engine task ``task`` are sent to ``queue`` (two sets, one round trip)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(self.queue_tasks_key(queue), task)
        pipe.sadd(self.sent_tasks_key(), task)
        pipe.execute()

    def queue_tasks(self, queue: str) -> set[str]:
        """Every engine task name ever noted for ``queue``."""
        return {_text(name) for name in self.client.smembers(self.queue_tasks_key(queue))}

    def sent_tasks(self) -> set[str]:
        """Every engine task name ever noted for any queue."""
        return {_text(name) for name in self.client.smembers(self.sent_tasks_key())}
