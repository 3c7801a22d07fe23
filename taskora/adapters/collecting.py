"""Collect buffers: the push (lua/collect_push.lua) and the two reads of a buffer (items, meta).

The drain into a job happens in the claim (lua/lib/collect.lua), so nothing here takes items out.
"""

from __future__ import annotations

from .base import CollectPush
from .core import RedisCore
from .replies import _text


class CollectOps(RedisCore):
    """The keys ``<task prefix>collect:<key>:items|meta|job`` (wire v6, as TypeScript taskora writes them)."""

    def collect_key(self, task: str, key: str, part: str) -> str:
        return f"{self.keys.task_prefix(task)}collect:{key}:{part}"

    def collect_push(self, push: CollectPush) -> tuple[int, int]:
        """Append ``push.item``; returns (1 flushed into ``push.id`` / 0 buffered / -1 resent, buffer count)."""
        self.ensure_handshake()  # a producer's first write may be a collect item
        args = [self.keys.task_prefix(push.task), self.now_ms(), push.id, push.item, push.key, push.delay_ms,
                push.max_size, push.max_wait_ms, push.version, push.max_attempts]
        flushed, count = self.scripts.collect_push(self.runner, self.keys.queue(push.task), args)
        return int(flushed), int(count)

    def collect_buffer_keys(self, task: str) -> list[str]:
        """Every ``collect:*`` key of ``task`` (items, meta, flush-job pointer of every buffer), found by SCAN:
        a buffer's own key is only known to its pushes, and a purge must find buffers whose timer is gone.
        Each key once: SCAN may return a key twice when Redis resizes its keyspace table mid-scan."""
        pattern = _glob_escape(self.keys.task_prefix(task)) + "collect:*"
        return sorted({_text(k) for k in self.client.scan_iter(match=pattern, count=1000)})

    def collect_buffers(self, task: str) -> list[str]:
        """The keys of ``task``'s buffers that hold items (each ``collect:<key>:items`` list), sorted."""
        head = self.keys.task_prefix(task) + "collect:"
        return sorted(key[len(head):-len(":items")] for key in self.collect_buffer_keys(task)
                      if key.endswith(":items"))

    def collect_flush(self, task: str, key: str, job_id: str, version: int, max_attempts: int) -> int:
        """Force buffer ``key`` out now as waiting job ``job_id`` (lua/collect_flush.lua); returns how many
        items it took (0, and no job, for an empty buffer)."""
        args = [self.keys.task_prefix(task), self.now_ms(), job_id, key, version, max_attempts]
        return int(self.scripts.collect_flush(self.runner, self.keys.queue(task), args))

    def collect_items(self, task: str, key: str) -> list[bytes]:
        """The buffered items, oldest first, in one LRANGE (a consistent snapshot); nothing changes."""
        return list(self.client.lrange(self.collect_key(task, key, "items"), 0, -1))

    def collect_meta(self, task: str, key: str) -> dict[str, str]:
        """The buffer's ``count``/``firstAt``/``lastAt`` (empty when no buffer exists); nothing changes."""
        raw = self.client.hgetall(self.collect_key(task, key, "meta"))
        return {_text(k): _text(v) for k, v in raw.items()}


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a SCAN MATCH pattern (a task name may hold ``*``, ``?``, ``[`` or ``\\``)."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
