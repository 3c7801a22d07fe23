"""Which task names each running worker serves, kept beside its liveness key (additive to wire v6).

Each ``taskora worker`` process writes ``<root>:alive:<worker id>:tasks`` (a string: its task names, one a line)
with a short PX lifetime and refreshes it with its beat, and notes its id in the set ``<root>:alive:served``. A
reader takes the ids from that set and the names from the keys still present: a key that lapsed means a worker
that stopped beating, and its id is dropped from the set. Every write is one key and every read a pipeline of
single-key commands, so it works on a Redis Cluster as well (keys on any slot). A TypeScript worker writes none.
"""

from __future__ import annotations

from collections.abc import Iterable

from .core import RedisCore
from .replies import _text


class WorkerRegistryOps(RedisCore):
    """Reads and writes of the served-task registry (see the module docstring)."""

    def served_index_key(self) -> str:
        return f"{self.keys.root}:alive:served"

    def served_tasks_key(self, worker_id: str) -> str:
        return f"{self.keys.root}:alive:{worker_id}:tasks"

    def publish_served(self, worker_id: str, names: Iterable[str], ttl_ms: int) -> None:
        """Say that worker ``worker_id`` serves ``names``, for ``ttl_ms`` from now (the key first, then the index:
        an index entry without its key is taken for a gone worker)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.served_tasks_key(worker_id), "\n".join(sorted(set(names))), px=ttl_ms)
        pipe.sadd(self.served_index_key(), worker_id)
        pipe.execute()

    def withdraw_served(self, worker_id: str) -> None:
        """A clean stop: ``worker_id`` serves nothing any more."""
        pipe = self.client.pipeline(transaction=False)
        pipe.srem(self.served_index_key(), worker_id)
        pipe.delete(self.served_tasks_key(worker_id))
        pipe.execute()

    def served_by_live_workers(self) -> set[str]:
        """Every task name some live worker serves; the ids of workers whose key lapsed leave the index."""
        ids = sorted(_text(worker_id) for worker_id in self.client.smembers(self.served_index_key()))
        if not ids:
            return set()
        pipe = self.client.pipeline(transaction=False)
        for worker_id in ids:
            pipe.get(self.served_tasks_key(worker_id))
        names: set[str] = set()
        gone = []
        for worker_id, value in zip(ids, pipe.execute(), strict=True):
            if value is None:
                gone.append(worker_id)
            elif text := _text(value):
                names.update(text.split("\n"))
        if gone:
            self.client.srem(self.served_index_key(), *gone)
        return names
