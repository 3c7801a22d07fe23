"""``app.control``: revoke, purge and inspect over taskora's job store and worker control channel.

Celery broadcasts control commands to live workers. taskora's jobs live in Redis, so most answers
come from there: ``revoke`` cancels the job itself (a waiting/delayed job ends REVOKED at once, a
running one is aborted through its worker; ``terminate=True`` asks the same, and a prefork worker may
kill the child), ``purge`` deletes waiting and delayed jobs, and ``inspect()`` asks live workers
over taskora's control channel, as ``taskora inspect`` does (waiting and cancelled jobs come from
the store).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ._control_extras import ControlExtrasMixin, InspectExtrasMixin
from ._control_live import LiveControlMixin
from ._inspect_requests import celery_name, celery_stats, request_info, scheduled_entry
from ._revoked_ids import mark_unstarted_revoked, tell_workers_revoked

__all__ = ["Control", "Inspect", "celery_name"]

#: The node name used for answers read from the job store.
STORE_NODE = "taskora@store"


class Control(ControlExtrasMixin, LiveControlMixin):
    """Remote control of the app's workers (celery-surface §1.7)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def revoke(self, task_id: str | Iterable[str], destination: Any = None, terminate: bool = False,
               signal: str = "SIGTERM", reply: bool = False, timeout: float | None = 1.0,
               **kwargs: Any) -> list[dict[str, Any]] | None:  # fmt: skip
        """Revoke the job(s): one not started yet is REVOKED at once and never runs.

        A running one is told to stop (``ctx.signal``) and ends REVOKED when it does; with ``terminate=True`` it
        is REVOKED at once and its worker stops the handler: a prefork child gets ``signal`` and is replaced, a
        thread gets :class:`taskora.worker.terminate.Terminated` raised inside the handler. An id with no job
        is stored REVOKED unless a state says it started elsewhere (Celery 5.7's worker does the same). The
        live workers are told the ids (``inspect().revoked()``); with ``reply=True`` their answers are returned.

        Raises:
            ValueError: ``signal`` is not a signal name or number (nothing is revoked).
        """
        from ..result import AsyncResult

        ids = [task_id] if isinstance(task_id, str) else list(task_id)
        signame = _signal_name(signal) if terminate else ""
        without_job = []
        for job_id in ids:
            handle = AsyncResult(job_id, app=self.app)._handle()
            if handle is None:
                without_job.append(job_id)
                continue
            reason = "terminated" if terminate else "revoked"
            handle.app.adapter.cancel(handle.task, handle.id, reason, terminate=signame)
        mark_unstarted_revoked(self.app, without_job)
        return tell_workers_revoked(self.app, ids, destination, reply=reply, timeout=timeout)

    def terminate(self, task_id: str | Iterable[str], destination: Any = None, signal: str = "SIGTERM",
                  **kwargs: Any) -> None:  # fmt: skip
        self.revoke(task_id, destination=destination, terminate=True, signal=signal, **kwargs)

    def rate_limit(self, task_name: str, rate_limit: Any, destination: Any = None, reply: bool = False,
                   timeout: float = 1.0, **kwargs: Any) -> list[dict[str, Any]] | None:  # fmt: skip
        """Set a task's rate limit (``"5/s"``, ``"100/m"``; None or 0 lifts it) for every worker at once.

        The limit lives in the engine, shared by all workers (stricter than Celery's per-worker buckets); it
        holds until a deploy changes the task's declared ``rate_limit`` (workers starting do not undo it).

        As with Celery the task is named, not imported: a producer that does not register it still sets it.

        Raises:
            taskora.ConfigurationError: ``rate_limit`` is not a rate limit (a ValueError; nothing is changed).
        """
        from taskora.rate_limits import parse_rate_limit, set_rate_limit

        engine_names = sorted(set(self.app._engine_names_for(task_name) or ()) | {task_name})
        parse_rate_limit(rate_limit, name=f"{task_name}: rate_limit")  # checked before anything is written
        native = self.app.__taskora_app__
        for engine_name in engine_names:
            set_rate_limit(native, engine_name, rate_limit)
        answer = {"ok": "new rate limit set successfully"}
        return [{STORE_NODE: answer}] if reply else None

    def shutdown(self, destination: Any = None, **kwargs: Any) -> list[dict[str, Any]] | None:
        """Ask live workers (all, or those in ``destination``) for a warm shutdown, as SIGTERM does."""
        return self.broadcast("shutdown", destination=destination, **kwargs)

    def purge(self, connection: Any = None) -> int:
        """Delete every waiting and delayed job of this app's tasks; returns how many."""
        native = self.app.__taskora_app__
        return sum(native.adapter.purge(name) for name in list(native.tasks))

    discard_all = purge

    def inspect(self, destination: Any = None, timeout: float = 1.0, callback: Any = None, connection: Any = None,
                limit: Any = None, pattern: Any = None, matcher: Any = None) -> Inspect:  # fmt: skip
        return Inspect(self.app, destination=destination, timeout=timeout, limit=limit)

    def ping(self, destination: Any = None, timeout: float = 1.0, **kwargs: Any) -> list[dict[str, Any]]:
        """``[{node: {"ok": "pong"}}, ...]`` for the workers that answered (Celery's shape)."""
        answers = self.inspect(destination=destination, timeout=timeout).ping() or {}
        return [{host: reply} for host, reply in answers.items()]


class Inspect(InspectExtrasMixin):
    """``app.control.inspect()``: each method returns ``{node: data}``, or None when nobody answers.

    Every method asks the live workers over taskora's control channel (:meth:`taskora.Taskora.broadcast`,
    what ``taskora inspect`` uses) and answers in Celery's shapes, keyed by each worker's node name;
    ``reserved`` also reads the job store (jobs waiting to be claimed, also names only ever sent with
    ``send_task``), under the node name ``taskora@store``, unless a ``destination`` leaves that node out.
    As in Celery, the answer is complete once ``limit`` workers (or every named destination) have replied.
    """

    def __init__(self, app: Any, destination: Any = None, timeout: float = 1.0, limit: int | None = None) -> None:
        self.app = app
        self.destination = [destination] if isinstance(destination, str) else destination
        self.timeout = timeout
        self.limit = limit

    def _ask(self, command: str, convert: Callable[[str, Any], Any]) -> dict[str, Any] | None:
        native = self.app.__taskora_app__
        replies = native.broadcast(command, timeout=self.timeout, destination=self.destination or None,
                                   limit=self.limit)
        return {host: convert(host, reply) for host, reply in sorted(replies.items())} or None

    def _stored(self, state: str) -> list[dict[str, Any]]:
        native = self.app.__taskora_app__
        return [request_info(self.app, engine_name, job_id, STORE_NODE, acknowledged=False)
                for engine_name in list(native.tasks) for job_id in native.adapter.list_ids(engine_name, state)]

    def ping(self, destination: Any = None) -> dict[str, Any] | None:
        return self._ask("ping", lambda host, reply: {"ok": reply})

    def stats(self) -> dict[str, Any] | None:
        return self._ask("stats", celery_stats)

    def active(self, safe: Any = None) -> dict[str, Any] | None:
        def convert(host: str, jobs: Any) -> list[dict[str, Any]]:
            now = time.time()
            return [request_info(self.app, j["task"], j["id"], host, worker_pid=j.get("pid"),
                                 time_start=now - float(j.get("runtime_s") or 0)) for j in jobs]  # fmt: skip

        return self._ask("active", convert)

    def scheduled(self, safe: Any = None) -> dict[str, Any] | None:
        def convert(host: str, jobs: Any) -> list[dict[str, Any]]:
            return [scheduled_entry(self.app, j["task"], j["id"], host, j["eta_ms"]) for j in jobs]

        return self._ask("scheduled", convert)

    def registered(self, *taskinfoitems: Any) -> dict[str, Any] | None:
        """Each worker's task names; with attribute names, ``"name [attr=value ...]"`` strings (Celery's form)."""
        return self._ask_with("dump_tasks", taskinfoitems=list(taskinfoitems))

    registered_tasks = registered

    def reserved(self, safe: Any = None) -> dict[str, Any]:
        """Each worker's jobs claimed and not started yet (waiting for its ``-c`` budget, or claimed ahead:
        Celery's prefetched messages), and the jobs waiting to be claimed, read from the store."""
        def convert(host: str, jobs: Any) -> list[dict[str, Any]]:
            if not isinstance(jobs, list):  # a worker that does not answer ``reserved`` (an embedded one)
                return []
            return [request_info(self.app, j["task"], j["id"], host, worker_pid=j.get("pid"), acknowledged=False)
                    for j in jobs]

        answers = self._ask("reserved", convert) or {}
        if not self.destination or STORE_NODE in self.destination:
            answers[STORE_NODE] = self._stored("waiting")
        return answers

    def revoked(self) -> dict[str, Any] | None:
        """Each worker's revoked ids: those it was told of (``hello``) and the cancelled jobs of its tasks."""
        return self._ask_with("revoked")

    def hello(self, from_node: str, revoked: Any = None) -> dict[str, Any] | None:
        """Celery's mingle exchange: hand revoked ids to the workers, get back theirs and their clock."""
        return self._ask_with("hello", from_node=from_node, revoked=revoked)


def _signal_name(value: Any) -> str:
    """``"SIGKILL"``, ``"KILL"``, ``9`` -> ``"SIGKILL"`` (Celery accepts each); ValueError naming a bad one."""
    import signal

    from taskora.worker.terminate import signal_number

    return signal.Signals(signal_number(value or "SIGTERM")).name
