"""The Redis result backend (``celery.backends.redis.RedisBackend``) on the app's taskora store.

It works on the app's engine connection, real Redis or the in-memory engine alike, so results stored
by one process are read by any other sharing the store (see ``base.py`` for where writes are kept).
``get``/``set``/``mget``/``delete`` are Celery's raw key/value access on the same client.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import redis

from ..states import FAILURE, READY_STATES
from ._decoding import decoding_twin, wants_decoded
from ._meta import META_FIELD, StoredMeta
from ._result_consumer import ResultConsumer
from .base import Backend

__all__ = ["RedisBackend"]

#: Job states after which an explicit write overrides the job's own outcome.
FINISHED_STATES = ("completed", "failed", "cancelled", "expired")
#: How often a write to a job hash is retried when the job changed between the check and the write.
_WATCH_ATTEMPTS = 5


class RedisBackend(Backend):
    """Celery's Redis backend API; explicit writes go into the job hash or a ``celery:meta`` key."""

    @property
    def _native(self) -> Any:
        return self.app.__taskora_app__

    @property
    def _store(self) -> Any:
        """The raw (bytes) client of the app's store, what the backend itself reads and writes with."""
        return self._native.adapter.raw_client()

    @property
    def client(self) -> Any:
        """The Redis client of the app's store (``redis.Redis``, a cluster client or fakeredis); one answering
        ``str`` when the backend URL says ``?decode_responses=true``."""
        return decoding_twin(self._store) if wants_decoded(self.url) else self._store

    @property
    def compression(self) -> str | None:
        """``result_compression``, except with ``decode_responses`` (compressed bytes are not text), as in Celery."""
        return None if wants_decoded(self.url) else self.app.conf.get("result_compression")

    @functools.cached_property
    def result_consumer(self) -> ResultConsumer:
        """Celery's pub/sub consumer of result channels, for code that drives it directly (``_result_consumer``)."""
        return ResultConsumer(self)

    def _now_ms(self) -> int:
        return int(self._native.adapter.now_ms())

    def get_key_for_task(self, task_id: str, key: str = "") -> str:
        """The key an explicit write for an id without a job is kept in."""
        return f"{self._native.adapter.keys.root}:celery:meta:{task_id}{key}"

    # -- explicit writes ----------------------------------------------------------------------------
    def _write(self, task_id: str, meta: StoredMeta) -> None:
        self._store_meta(task_id, meta)
        if meta.status in READY_STATES and not meta.forgotten:
            self._store.publish(self.get_key_for_task(task_id), meta.status)  # wakes a ResultConsumer, as Celery's

    def _store_meta(self, task_id: str, meta: StoredMeta) -> None:
        for _ in range(_WATCH_ATTEMPTS):
            job_key = self._job_key(task_id)
            if job_key is None:
                break
            if self._set_in_job(job_key, meta):
                return
        self._set_standalone(task_id, meta.encode(self._native.serializer), meta.status)

    def _job_key(self, task_id: str) -> str | None:
        handle = self._native.locate(task_id)
        return None if handle is None else self._native.adapter.keys.job(handle.task, task_id)

    def _set_in_job(self, job_key: str, meta: StoredMeta) -> bool:
        """HSET the meta into the job hash only while it exists (a trimmed job must not come back half),
        noting whether the job had finished: a write made while it ran yields to its outcome."""
        with self._store.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(job_key)
                state = pipe.hget(job_key, "state")
                if state is None:
                    pipe.reset()
                    return False
                meta.after_finish = (state.decode() if isinstance(state, bytes) else state) in FINISHED_STATES
                pipe.multi()
                pipe.hset(job_key, META_FIELD, meta.encode(self._native.serializer))
                pipe.execute()
                return True
            except redis.WatchError:
                return False

    def store_detached_result(self, task_id: str, result: Any, state: str) -> None:
        """Store ``state``/``result`` in the key of an id without a job, even while the job exists: for a job
        the engine deletes once it finishes (its task ignores results, but this call asked to keep one)."""
        meta = StoredMeta(status=state, result=result, stored_ms=self._now_ms())
        self._set_standalone(task_id, meta.encode(self._native.serializer), state)

    def _set_standalone(self, task_id: str, encoded: str, status: str) -> None:
        effective = self.app.conf.effective()
        expires = effective.result_expires
        if status == FAILURE and effective.result_failure_expires is not None:
            expires = effective.result_failure_expires  # Celery 5.7: failures may be kept longer (or shorter)
        self._store.set(self.get_key_for_task(task_id), encoded, ex=int(expires) if expires else None)

    def stored_meta(self, task_id: str, job: dict[str, Any] | None) -> StoredMeta | None:
        raw = job.get(META_FIELD) if job is not None else self._store.get(self.get_key_for_task(task_id))
        return StoredMeta.decode(self._native.serializer, raw)

    # -- Celery's raw key/value access ------------------------------------------------------------------
    def get(self, key: str | bytes) -> Any:
        return self.client.get(key)

    def mget(self, keys: Iterable[str | bytes]) -> list[Any]:
        return self.client.mget(list(keys))

    def set(self, key: str | bytes, value: Any) -> None:
        expires = self.app.conf.effective().result_expires
        self.client.set(key, value, ex=int(expires) if expires else None)

    def _set_with_state(self, key: str | bytes, value: Any, state: str) -> None:
        self.set(key, value)

    def delete(self, key: str | bytes) -> None:
        self.client.delete(key)

    def incr(self, key: str | bytes) -> int:
        return int(self.client.incr(key))

    def expire(self, key: str | bytes, value: int) -> None:
        self.client.expire(key, value)
