"""Celery's result objects (``celery.result``) over taskora job hashes.

An :class:`AsyncResult` reads the job of its id: the native state maps onto Celery's (waiting/delayed
→ PENDING, active → STARTED with ``track_started`` else PENDING, retrying → RETRY, completed →
SUCCESS, failed → FAILURE, cancelled/expired → REVOKED), a custom state set by ``update_state`` is
read from the job's progress field, and an id nobody knows is PENDING (celery-surface §15.9).
``get()`` waits on the engine's event stream (no polling per job) and re-raises the original
exception class rebuilt from the stored type, module and arguments (§5.5).

``ResultSet``/``GroupResult`` (``_result_set.py``), the exception transport
(``_exception_transport.py``) and the join guard (``_result_base.py``) live in their own modules and
are re-exported here, so every ``celery.result`` import path keeps working.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from kombu.exceptions import ContentDisallowed

from taskora import errors as native_errors

from . import states
from ._exception_transport import failure_exception, rebuild_exception, retry_exception
from ._exception_transport import loads_detail as _loads_detail
from ._exception_transport import text as _text
from ._result_base import ResultBase, allow_join_result, assert_will_not_block, denied_join_result
from ._result_set import PARENT_GRACE_S, GroupResult, ResultSet
from ._state import get_current_app
from .backends._meta import META_FIELD
from .exceptions import ChordError, TaskRevokedError, TimeoutError

__all__ = [
    "ResultBase",
    "AsyncResult",
    "EagerResult",
    "ResultSet",
    "GroupResult",
    "allow_join_result",
    "denied_join_result",
    "result_from_tuple",
    "rebuild_exception",
    "CELERY_STATE_KEY",
    "IGNORED_RESULT",
    "assert_will_not_block",
]

#: Key of the Celery state record kept in a job's progress field (``update_state``, STARTED).
CELERY_STATE_KEY = "__celery__"
#: The value a worker stores for a task that raised ``Ignore`` (no Celery state is stored).
IGNORED_RESULT = {"__celery_ignored__": True}

#: First pause of a wait for an id not stored yet (it doubles up to ``get(interval=)``).
FIRST_LOOKUP_S = 0.005


_NATIVE_STATES = {
    "waiting": states.PENDING,
    "delayed": states.PENDING,
    "retrying": states.RETRY,
    "completed": states.SUCCESS,
    "failed": states.FAILURE,
    "cancelled": states.REVOKED,
    "expired": states.REVOKED,
}


_FINISHED = ("completed", "failed", "cancelled", "expired")


class AsyncResult(ResultBase):
    """The result of a task sent to workers, by id.

    Args:
        id: The task id.
        backend: Accepted for Celery's signature (the engine is the app's).
        task_name: The Celery task name, when known (saves looking the job up among all tasks).
        app: The Celery app (default: the current app).
        parent: The previous result in a chain.
    """

    def __init__(self, id: str, backend: Any = None, task_name: str | None = None, app: Any = None,
                 parent: Any = None, *, engine_task: str | None = None, ignored: bool = False) -> None:  # fmt: skip
        if isinstance(id, ResultBase):
            id = id.id  # type: ignore[attr-defined]
        if not isinstance(id, str) or not id:
            raise ValueError(f"AsyncResult needs a task id string, got {id!r}")
        self.id = id
        self.app = app if app is not None else get_current_app()
        self.backend = backend if backend is not None else getattr(self.app, "backend", None)
        self.parent = parent
        self.ignored = ignored
        self._task_name = task_name
        self._engine_task = engine_task
        self._cache: dict[str, Any] | None = None

    task_id = property(lambda self: self.id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.id}>"

    def __str__(self) -> str:
        return self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncResult):
            return other.id == self.id
        if isinstance(other, str):
            return other == self.id
        return NotImplemented

    def __reduce__(self) -> Any:
        return (type(self), (self.id, None, self._task_name, None, self.parent))

    # -- locating and reading the job -------------------------------------------------------------
    def _handle(self) -> Any:
        native = self.app.__taskora_app__
        if self._engine_task is None:
            among = self.app._engine_names_for(self._task_name)
            handle = native.locate(self.id, among) or self._locate_unregistered(among)
            if handle is None:
                return None
            self._engine_task = handle.task
        return native.handle(self._engine_task, self.id)

    def _locate_unregistered(self, searched: list[str] | None) -> Any:
        """Look among the task names producers sent (adapters/queue_index.py) that this app does not register: a
        web process that never imported a task's module still reads its result from the id, as Celery does."""
        from .app._publish_compact import celery_name  # compat.app imports this module

        native = self.app.__taskora_app__
        names = native.adapter.sent_tasks() - set(native.tasks if searched is None else searched)
        if self._task_name is not None:
            names = {n for n in names if celery_name(n) == self._task_name}
        return native.locate(self.id, sorted(names)) if names else None

    def _fields(self) -> dict[str, Any] | None:
        if self._cache is not None:
            return self._cache
        handle = self._handle()
        job = handle.fields() if handle is not None else None
        if job is not None and job.get("state") in ("completed", "failed", "cancelled", "expired"):
            self._cache = job
        return job

    def _decode(self, raw: Any) -> Any:
        if raw is None:
            return None
        serializer = self.app.__taskora_app__.serializer  # results load under result_accept_content
        return getattr(serializer, "loads_result", serializer.loads)(raw)

    def _custom_state(self, job: dict[str, Any]) -> tuple[str, Any] | None:
        record = self._decode(job.get("progress")) if job.get("progress") is not None else None
        if isinstance(record, dict) and isinstance(record.get(CELERY_STATE_KEY), dict):
            entry = record[CELERY_STATE_KEY]
            return str(entry.get("state")), entry.get("meta")
        return None

    def _expired(self, job: dict[str, Any]) -> bool:
        """Past its ``expires``: the engine's next claim ends it as expired, whenever a worker gets to it."""
        expire_at = int(float(_text(job.get("expireAt")) or 0))
        return 0 < expire_at <= self.app.__taskora_app__.adapter.now_ms()

    def _state_and_info(self) -> tuple[str, Any]:
        job = self._fields()
        stored = self._stored_write(job)
        if stored is not None and stored.replaced_by:
            return self._follow(stored)._state_and_info()
        if stored is not None:
            return stored.status, stored.info()
        if job is None:
            return states.PENDING, None
        return self._job_state_and_info(job)

    def _stored_write(self, job: dict[str, Any] | None) -> Any:
        """An explicit backend write (``store_result``/``forget``) that overrides the job's state, if any: one made
        after the job finished, or any while it has not (its outcome, once there, is newer)."""
        if job is not None and META_FIELD not in job:
            return None
        stored_meta = getattr(self.backend, "stored_meta", None)
        stored = stored_meta(self.id, job) if stored_meta is not None else None
        if stored is None or job is None or stored.replaced_by:
            return stored
        newer = stored.after_finish or _text(job.get("state")) not in _FINISHED
        return stored if newer else None

    def _follow(self, stored: Any) -> AsyncResult:
        """The result of the job that replaced this task (``Task.replace``)."""
        target = stored.replaced_by
        return AsyncResult(str(target["id"]), task_name=target.get("task"), app=self.app)

    def _replacement(self) -> AsyncResult | None:
        job = self._fields()
        if job is None or META_FIELD not in job:
            return None
        stored = self._stored_write(job)
        return self._follow(stored) if stored is not None and stored.replaced_by else None

    def _job_state_and_info(self, job: dict[str, Any]) -> tuple[str, Any]:
        native = _text(job.get("state"))
        if native == "completed":
            value = self._decode(job.get("result"))
            if value == IGNORED_RESULT:
                custom = self._custom_state(job)
                return custom if custom is not None else (states.PENDING, None)
            return states.SUCCESS, value
        if native == "failed":
            return states.FAILURE, failure_exception(job)
        if native in ("cancelled", "expired"):
            return states.REVOKED, TaskRevokedError("expired" if native == "expired" else "revoked")
        if native in ("waiting", "delayed") and self._expired(job):
            return states.REVOKED, TaskRevokedError("expired")  # no worker claimed it yet; none will run it
        if native == "retrying":
            return states.RETRY, retry_exception(job)
        if native == "active":
            custom = self._custom_state(job)
            if custom is not None:
                return custom
            named = {**job, "celery.task": self._stored_name(job)}  # a publish may leave the name out
            return (states.STARTED, None) if self.app._tracks_started(named) else (states.PENDING, None)
        return _NATIVE_STATES.get(native or "", states.PENDING), None

    # -- Celery's properties ------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state_and_info()[0]

    status = state

    @property
    def result(self) -> Any:
        return self._state_and_info()[1]

    info = result

    @property
    def traceback(self) -> str | None:
        job = self._fields()
        if job is None or _text(job.get("state")) not in ("failed", "retrying"):
            return None
        return _loads_detail(job.get("errorDetail")).get("traceback")

    @property
    def date_done(self) -> datetime | None:
        job = self._fields()
        done = _text(job.get("finishedOn")) if job else None
        return datetime.fromtimestamp(int(done) / 1000, tz=timezone.utc) if done else None

    def _envelope(self) -> dict[str, Any]:
        job = self._fields()
        data = self._decode(job.get("data")) if job else None
        return data if isinstance(data, dict) else {}

    @property
    def name(self) -> str | None:
        job = self._fields()
        return self._stored_name(job) if job else self._task_name

    def _stored_name(self, job: dict[str, Any]) -> str | None:
        """The job's ``celery.task``, or its engine task's Celery name when the publish left it out."""
        from .app._publish_compact import task_name  # compat.app imports this module

        return task_name(job, self._engine_task)

    @property
    def args(self) -> list[Any] | None:
        return self._envelope().get("args")

    @property
    def kwargs(self) -> dict[str, Any] | None:
        envelope = self._envelope()
        return envelope.get("kwargs", {} if "args" in envelope else None)  # a publish leaves out empty kwargs

    @property
    def retries(self) -> int | None:
        job = self._fields()
        return int(_text(job.get("attempt")) or 1) - 1 if job else None

    @property
    def queue(self) -> str | None:
        job = self._fields()
        if not job:
            return None
        from .app._publish_compact import is_front_job, queue_name  # compat.app imports this module

        return queue_name(job.get("celery.queue"), self._engine_task, is_front_job(job))

    @property
    def worker(self) -> str | None:
        return None

    @property
    def children(self) -> list[Any] | None:
        """The results of the tasks this task sent while it ran; None until it is ready (compat/_children.py)."""
        from ._children import children_of

        return children_of(self, self._fields(), self.ready())

    def iterdeps(self, intermediate: bool = False) -> Any:
        from ._children import iterdeps

        return iterdeps(self, intermediate)

    def collect(self, intermediate: bool = False, **kwargs: Any) -> Any:
        """``(result, value)`` for this result and, once it is ready, its children's, depth by depth."""
        from ._children import collect

        return collect(self, intermediate, **kwargs)

    def ready(self) -> bool:
        return self.state in states.READY_STATES

    def successful(self) -> bool:
        return self.state == states.SUCCESS

    def failed(self) -> bool:
        return self.state == states.FAILURE

    def exists(self) -> bool:
        return self._fields() is not None

    # -- waiting ------------------------------------------------------------------------------------
    def get(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5, no_ack: bool = True,
            follow_parents: bool = True, callback: Callable[..., Any] | None = None, on_message: Any = None,
            on_interval: Callable[[], Any] | None = None, disable_sync_subtasks: bool = True,
            EXCEPTION_STATES: Any = None, PROPAGATE_STATES: Any = None) -> Any:  # fmt: skip
        """Wait until the task is ready and return its value (or raise its exception).

        Raises:
            TimeoutError: (``taskora.compat.exceptions.TimeoutError``) not ready within ``timeout``.
            RuntimeError: called inside a task without ``allow_join_result``.
        """
        if self.ignored:
            return None
        if disable_sync_subtasks:
            assert_will_not_block()
        deadline = None if timeout is None else time.monotonic() + timeout
        if follow_parents and propagate and self.parent is not None:
            self._first_look_at_parents(deadline, interval)
        handle = self._wait_until_final(deadline, interval, on_interval)
        self._cache = None  # read the outcome afresh; a finished job's fields are cached for _final_value
        handle = self._wait_again_if_resent(handle, deadline, interval, on_interval)
        replacement = self._replacement() if handle is not None else None
        if replacement is not None:  # the task was replaced: its result is the replacement's
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            return replacement.get(timeout=left, propagate=propagate, interval=interval, callback=callback,
                                   disable_sync_subtasks=False)
        if follow_parents and propagate and self.parent is not None and self.failed():
            self._throw_parents_error(deadline)
        value = self._final_value(propagate)
        if callback is not None:
            callback(self.id, value)
        return value

    wait = get

    def _throw_parents_error(self, deadline: float | None) -> None:
        """Celery re-checks the parents while it waits: their error wins. A chord body is settled by the
        worker of its last header member a moment before that member's own job ends (the workflow advances
        first), so the parents get up to ``PARENT_GRACE_S`` (within the caller's deadline) to end too."""
        left = PARENT_GRACE_S if deadline is None else min(PARENT_GRACE_S, max(0.0, deadline - time.monotonic()))
        try:
            self.parent.get(timeout=left, propagate=True, disable_sync_subtasks=False)
        except TimeoutError:
            self._throw_ancestors_error()

    def _first_look_at_parents(self, deadline: float | None, interval: float) -> None:
        """Raise a failed parent's error before waiting for this task, as Celery does. That failure ends this task
        too (the workflow fails the steps after it) a moment later, and that moment is waited for (up to
        ``PARENT_GRACE_S``, within the caller's deadline), so that whoever reads this task's state once ``get()``
        raised finds it ended, as Celery's test_header_failure_fails_the_chords_after_it does."""
        try:
            self._throw_ancestors_error(derived=False)
        except Exception:
            left = PARENT_GRACE_S if deadline is None else min(PARENT_GRACE_S, max(0.0, deadline - time.monotonic()))
            try:
                self._wait_until_final(time.monotonic() + left, interval, None)
            except TimeoutError:
                pass  # it did not end in time: the parent's error is raised all the same
            raise

    def _throw_ancestors_error(self, derived: bool = True) -> None:
        """Raise the error of the earliest failed step before this one, as Celery does (it walks the parents from
        the chain's first step): a failure early in a chain ends the steps after it with errors of its making (a
        chord's ``ChordError``), and the immediate parent's would hide the cause. Without ``derived``, a step's
        ``ChordError`` is passed over: its cause may not have ended yet (the workflow settles a chord's body before
        the failed header member's own job ends), and the wait that follows gives it the time to."""
        ancestors = []
        node = self.parent
        while node is not None:
            ancestors.append(node)
            node = node.parent
        for node in reversed(ancestors):
            try:
                node.maybe_throw()
            except ChordError:
                if derived:
                    raise

    def _wait_again_if_resent(self, handle: Any, deadline: float | None, interval: float, on_interval: Any) -> Any:
        """Why: a finished task's id sent again (a frozen signature in a second canvas) replaces its job by the new
        run's; when that happens between the wait and the read, the job read is the new, unfinished one, whose
        outcome is not there yet (``get()`` returned None, PENDING). Wait for the new run to end instead."""
        while handle is not None and (job := self._fields()) is not None and job.get("state") not in _FINISHED:
            handle = self._wait_until_final(deadline, interval, on_interval)
            self._cache = None
        return handle

    def _wait_until_final(self, deadline: float | None, interval: float, on_interval: Any) -> Any:
        """Wait for the job to end; returns its handle (None: no job, but a ready state was stored for the id).
        An id with no job waits as PENDING, as Celery's does (the native handle raises JobNotFoundError
        instead): it is looked up again every ``interval`` until it appears."""
        while True:
            handle = self._wait_for_job(deadline, interval, on_interval)
            if handle is None:
                return None
            try:
                handle.result(None if deadline is None else max(0.0, deadline - time.monotonic()))
            except native_errors.TimeoutError:
                raise TimeoutError("The operation timed out.") from None
            except native_errors.JobNotFoundError:
                self._engine_task = None  # not (or no longer) stored: poll for it like an unknown id
                continue
            except (native_errors.TaskoraError, ContentDisallowed):
                pass  # the outcome is read by the caller from the job itself (results under result_accept_content)
            return handle

    def _wait_for_job(self, deadline: float | None, interval: float, on_interval: Any) -> Any:
        """Poll only while the id is unknown; once located, waits are pushed. The pause starts at
        ``FIRST_LOOKUP_S`` and doubles up to ``interval``: the id of a chain's later task is unknown until the
        task before it ends, and a flat ``interval`` made every ``chain(...)().get()`` last half a second more.

        None: no job has the id but a ready state was stored for it (``backend.store_result``).
        """
        pause = min(FIRST_LOOKUP_S, interval)
        while True:
            handle = self._handle()
            if handle is not None:
                return handle
            stored = self._stored_write(None)
            if stored is not None and stored.status in states.READY_STATES:
                return None
            if on_interval is not None:
                on_interval()
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("The operation timed out.")
            wait = pause if deadline is None else min(pause, max(0.0, deadline - time.monotonic()))
            time.sleep(wait)  # the id is not in the store yet: nothing to subscribe to
            pause = min(pause * 2, interval)

    def _final_value(self, propagate: bool) -> Any:
        """The outcome read after waiting (``get`` cleared the cache first; a finished job is read once)."""
        state, info = self._state_and_info()
        if state in states.PROPAGATE_STATES and propagate:
            raise info
        return info

    def maybe_throw(self, propagate: bool = True, callback: Callable[..., Any] | None = None) -> None:
        state, info = self._state_and_info()
        if propagate and state in states.PROPAGATE_STATES:
            raise info
        if callback is not None:
            callback(self.id, info)

    maybe_reraise = maybe_throw

    def throw(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("AsyncResult.throw is only meaningful on promise-based backends")

    # -- control ------------------------------------------------------------------------------------
    def revoke(self, connection: Any = None, terminate: bool = False, signal: Any = None, wait: bool = False,
               timeout: float | None = None) -> None:  # fmt: skip
        self.app.control.revoke(self.id, terminate=terminate, signal=signal or "SIGTERM", reply=wait,
                                timeout=timeout)

    def revoke_by_stamped_headers(self, headers: dict[str, Any], connection: Any = None, terminate: bool = False,
                                  signal: Any = None, wait: bool = False, timeout: float | None = None) -> None:
        """Revoke every task stamped with ``headers`` (``{stamp: value or [values]}``), sent or yet to be sent."""
        self.app.control.revoke_by_stamped_headers(headers, terminate=terminate, signal=signal or "SIGTERM",
                                                   reply=wait, timeout=timeout)

    def forget(self) -> None:
        """Forget the result: the id reads as PENDING from now on (the job itself is trimmed by retention)."""
        self._cache = None
        backend = self.backend
        assert backend is not None, "AsyncResult.forget needs an app with a backend"
        backend.forget(self.id)

    def as_tuple(self) -> tuple[Any, Any]:
        parent = self.parent
        return (self.id, parent.as_tuple() if parent is not None else None), None

    def as_list(self) -> list[Any]:
        results = []
        node: Any = self
        while node is not None:
            results.append(node.id)
            node = node.parent
        return results

    @property
    def supports_native_join(self) -> bool:
        return True


class EagerResult(AsyncResult):
    """The result of a task run in this process (``apply()`` or ``task_always_eager``): always ready."""

    def __init__(self, id: str, ret_value: Any, state: str, traceback: str | None = None,
                 name: str | None = None, app: Any = None) -> None:  # fmt: skip
        self.id = id
        self.app = app
        self.backend = None
        self.parent = None
        self.ignored = False
        self._result = ret_value
        self._state = state
        self._traceback = traceback
        self._name = name

    def __reduce__(self) -> Any:
        return (type(self), (self.id, self._result, self._state, self._traceback, self._name))

    def _state_and_info(self) -> tuple[str, Any]:
        return self._state, self._result

    @property
    def traceback(self) -> str | None:
        return self._traceback

    @property
    def name(self) -> str | None:
        return self._name

    def ready(self) -> bool:
        return True

    # Celery's EagerResult.get takes fewer positional arguments than AsyncResult.get: kept as Celery has it.
    def get(self, timeout: float | None = None, propagate: bool = True,  # type: ignore[override]
            disable_sync_subtasks: bool = True, **kwargs: Any) -> Any:  # fmt: skip
        if disable_sync_subtasks:
            assert_will_not_block()
        if self.successful():
            return self._result
        if self._state in states.PROPAGATE_STATES and propagate:
            exc = self._result
            raise exc if isinstance(exc, BaseException) else Exception(exc)
        return self._result

    wait = get  # type: ignore[assignment]  # as get above

    def forget(self) -> None:
        """Nothing is stored for an eager result."""

    def revoke(self, *args: Any, **kwargs: Any) -> None:
        self._state = states.REVOKED
        self._result = TaskRevokedError("revoked")

    @property
    def date_done(self) -> datetime | None:
        return None


def result_from_tuple(r: Any, app: Any = None) -> Any:
    """Rebuild a result (tree) from ``as_tuple()`` output."""
    if isinstance(r, ResultBase):
        return r
    (id_, parent), nodes = r
    parent_result = result_from_tuple(parent, app) if parent else None
    if nodes is not None:
        return GroupResult(id_, [result_from_tuple(child, app) for child in nodes], parent=parent_result, app=app)
    return AsyncResult(id_, app=app, parent=parent_result)
