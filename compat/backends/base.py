"""Celery's result backend API (``celery.backends.base``) over taskora's job store.

taskora keeps every task's outcome in its job hash, so the result backend of a Celery app is not a
second store: reading a result reads the job. What the backend adds is Celery's *explicit* writes —
``store_result``/``mark_as_*`` (a task storing a state for itself or for any id) and ``forget`` — kept
as a *stored meta* record:

* for an id whose job exists, in the job hash (field ``celery.meta``), so reading a result costs
  nothing more than it did (the job hash is read anyway);
* for an id no job has, in a key of its own (``<root>:celery:meta:<id>``) that expires with
  ``result_expires``.

The later write wins, as in Celery's backends: a write made after the job finished is what
``AsyncResult`` shows; one made before (a task storing a state for itself, a redelivered task) shows
until the job finishes, and the job's outcome replaces it then.
``forget`` stores a PENDING tombstone, so a forgotten result reads as unknown.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cached_property
from typing import Any

from .. import states
from .._exception_transport import rebuild_exception
from ..exceptions import ImproperlyConfigured
from ._cache import ResultCache
from ._meta import StoredMeta, exception_detail

__all__ = ["Backend", "BaseBackend", "BaseKeyValueStoreBackend", "KeyValueStoreBackend", "states"]


class Backend:
    """The app's result backend: Celery's read/write API on the job store (see the module docstring)."""

    supports_native_join = True
    supports_autoexpire = True
    persistent = True
    is_async = False
    READY_STATES = states.READY_STATES
    UNREADY_STATES = states.UNREADY_STATES
    EXCEPTION_STATES = states.EXCEPTION_STATES

    def __init__(self, app: Any, url: str | None = None, **kwargs: Any) -> None:
        self.app = app
        self.url = url

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.as_uri()}>"

    def as_uri(self, include_password: bool = False) -> str:
        return self.url or "taskora://"

    # -- capabilities -------------------------------------------------------------------------------
    def ensure_chords_allowed(self) -> None:
        """Chords need a backend that can join results; taskora's engine joins them itself, always."""

    # -- explicit writes ----------------------------------------------------------------------------
    def store_result(self, task_id: str, result: Any, state: str, traceback: str | None = None,
                     request: Any = None, **kwargs: Any) -> Any:  # fmt: skip
        """Record ``state`` (and ``result``; an exception for failure states) for ``task_id``; returns result."""
        if not isinstance(task_id, str) or not task_id:
            raise ValueError(f"store_result needs a task id string, got {task_id!r}")
        if not isinstance(state, str) or not state:
            raise ValueError(f"store_result needs a state name (e.g. states.SUCCESS), got {state!r}")
        meta = StoredMeta(status=state, result=result, traceback=traceback, stored_ms=self._now_ms(),
                          name=getattr(request, "task", None) if request is not None else None)
        self._cache.pop(task_id)
        self._write(task_id, meta)
        return result

    def mark_as_started(self, task_id: str, **meta: Any) -> Any:
        return self.store_result(task_id, meta, states.STARTED)

    def mark_as_done(self, task_id: str, result: Any, request: Any = None, store_result: bool = True,
                     state: str = states.SUCCESS) -> None:  # fmt: skip
        if store_result:
            self.store_result(task_id, result, state, request=request)

    def mark_as_failure(self, task_id: str, exc: BaseException, traceback: str | None = None, request: Any = None,
                        store_result: bool = True, call_errbacks: bool = True,
                        state: str = states.FAILURE) -> None:  # fmt: skip
        if store_result:
            self.store_result(task_id, exc, state, traceback=traceback, request=request)

    def mark_as_revoked(self, task_id: str, reason: str = "", request: Any = None, store_result: bool = True,
                        state: str = states.REVOKED) -> None:  # fmt: skip
        from ..exceptions import TaskRevokedError

        if store_result:
            self.store_result(task_id, TaskRevokedError(reason or "revoked"), state, request=request)

    def mark_as_retry(self, task_id: str, exc: BaseException, traceback: str | None = None,
                      request: Any = None) -> None:  # fmt: skip
        self.store_result(task_id, exc, states.RETRY, traceback=traceback, request=request)

    def store_detached_result(self, task_id: str, result: Any, state: str) -> None:
        """Store a result that must outlive its job (see ``RedisBackend``); here, as any explicit write."""
        self.store_result(task_id, result, state)

    def forget(self, task_id: str) -> None:
        """Forget ``task_id``'s result: it reads as PENDING (an unknown id) from now on."""
        self._cache.pop(task_id)
        self._write(task_id, StoredMeta(status=states.PENDING, result=None, stored_ms=self._now_ms(),
                                        forgotten=True))

    def mark_as_replaced(self, task_id: str, by_id: str, by_task: str | None = None) -> None:
        """Record that ``task_id``'s result is job ``by_id``'s (``Task.replace``); AsyncResult follows it."""
        self._cache.pop(task_id)
        self._write(task_id, StoredMeta(status=states.PENDING, result=None, stored_ms=self._now_ms(),
                                        replaced_by={"id": by_id, "task": by_task}))

    # -- reads --------------------------------------------------------------------------------------
    def get_task_meta(self, task_id: str, cache: bool = True) -> dict[str, Any]:
        """Celery's meta dict: ``task_id``, ``status``, ``result``, ``traceback``, ``children``, ``date_done``
        (a finished one kept in ``_cache`` when ``result_cache_max`` turns it on, read from there with ``cache``)."""
        if cache and task_id in self._cache:
            return self._cache[task_id]
        result = self.app.AsyncResult(task_id)
        state, info = result._state_and_info()
        done = result.date_done if state in states.READY_STATES else None
        meta = {"task_id": task_id, "status": state, "result": info, "traceback": result.traceback,
                "children": [], "date_done": done.isoformat() if done else None, "name": result.name}
        if state in states.READY_STATES:
            self._cache[task_id] = meta
        return meta

    @cached_property
    def _cache(self) -> ResultCache:
        """Finished tasks' metas (Celery's backend ``_cache``; off unless ``result_cache_max`` is set)."""
        return ResultCache(self.app.conf.result_cache_max)

    def get_state(self, task_id: str) -> str:
        return self.get_task_meta(task_id)["status"]

    get_status = get_state

    def get_result(self, task_id: str) -> Any:
        return self.get_task_meta(task_id)["result"]

    def get_traceback(self, task_id: str) -> str | None:
        return self.get_task_meta(task_id)["traceback"]

    def get_children(self, task_id: str) -> list[Any]:
        return []

    def exception_to_python(self, exc: Any) -> Any:
        """A stored exception description (Celery's ``exc_type``/``exc_message`` or ours) as an exception."""
        if isinstance(exc, BaseException) or not isinstance(exc, dict):
            return exc
        if "exc_type" in exc:
            message = exc.get("exc_message")
            args = list(message) if isinstance(message, (list, tuple)) else [message]
            return rebuild_exception({"type": exc["exc_type"], "module": exc.get("exc_module"), "args": args})
        return rebuild_exception(exc)

    def prepare_exception(self, exc: BaseException, serializer: str | None = None) -> dict[str, Any]:
        return exception_detail(exc)

    # -- storage (subclasses) ---------------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(datetime.now(tz=timezone.utc).timestamp() * 1000)

    def _write(self, task_id: str, meta: StoredMeta) -> None:
        raise ImproperlyConfigured(f"{type(self).__name__} cannot store results")

    def stored_meta(self, task_id: str, job: dict[str, Any] | None) -> StoredMeta | None:
        """The explicit write recorded for ``task_id`` (``job``: its job hash, or None when it has none)."""
        return None


#: Celery's names for the key/value backend bases; user backends subclass them.
BaseBackend = Backend
KeyValueStoreBackend = Backend
BaseKeyValueStoreBackend = Backend
