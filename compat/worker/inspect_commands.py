"""Celery's inspect commands beyond taskora's own (``clock``, ``active_queues``, ``query_task``, ``report``,
``conf``, ``dump_tasks``, ``revoked``, ``hello``), answered by every ``taskora worker`` running a Celery app;
``app.control.inspect()`` asks them. ``revoke`` records the ids ``app.control.revoke`` sends.
"""

from __future__ import annotations

import itertools
from typing import Any

from .control import control_command, inspect_command

__all__ = ["clock", "active_queues", "query_task", "report", "conf", "dump_tasks", "revoked", "hello",
           "revoke"]

#: The task attributes ``registered()`` shows when asked for none (Celery's default).
DEFAULT_TASK_INFO_ITEMS = ("exchange", "routing_key", "rate_limit")

#: This worker's logical clock: it advances with every inspect command the process answers.
_ticks = itertools.count(1)


@inspect_command()
def clock(state: Any, **kwargs: Any) -> dict[str, int]:
    return {"clock": next(_ticks)}


@inspect_command()
def active_queues(state: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """The queues this worker consumes, in kombu's ``Queue.as_dict`` shape (direct exchange of the same name)."""
    native = state.app.__taskora_app__
    names = sorted({native.tasks[n].options.queue for n in state.worker.task_names if n in native.tasks})
    return [_queue_dict(name) for name in names]


def _queue_dict(name: str) -> dict[str, Any]:
    exchange = {"name": name, "type": "direct", "arguments": None, "auto_delete": False, "delivery_mode": None,
                "durable": True, "no_declare": False, "passive": False}
    return {"name": name, "exchange": exchange, "routing_key": name, "alias": None, "auto_delete": False,
            "binding_arguments": None, "bindings": [], "consumer_arguments": None, "durable": True,
            "exclusive": False, "expires": None, "max_length": None, "max_length_bytes": None, "max_priority": None,
            "message_ttl": None, "no_ack": False, "no_declare": None, "queue_arguments": None}  # fmt: skip


@inspect_command(args=[("ids", list)])
def query_task(state: Any, ids: Any = (), **kwargs: Any) -> dict[str, Any]:
    """``{id: ["active", request]}`` for the given ids this worker is running now."""
    from ..app._inspect_requests import request_info

    wanted = {ids} if isinstance(ids, str) else set(ids or ())
    running = [job for job in state.worker.handle("active", {}) if job["id"] in wanted]
    return {job["id"]: ["active", request_info(state.app, job["task"], job["id"], state.hostname,
                                               time_start=_started(job), worker_pid=job.get("pid"))]
            for job in running}  # fmt: skip


def _started(job: dict[str, Any]) -> float:
    import time

    return time.time() - float(job.get("runtime_s") or 0)


@inspect_command()
def report(state: Any, **kwargs: Any) -> dict[str, str]:
    """The worker app's ``bugreport()`` (versions, platform, settings with passwords masked)."""
    return {"ok": state.app.bugreport()}


@inspect_command(args=[("with_defaults", bool)])
def conf(state: Any, with_defaults: bool = False, **kwargs: Any) -> dict[str, Any]:
    """The worker app's settings (secrets censored), with Celery's defaults when asked."""
    return state.app.conf.table(with_defaults=with_defaults)


@inspect_command(name="dump_tasks", variadic="taskinfoitems")
def dump_tasks(state: Any, taskinfoitems: Any = None, builtins: bool = False, **kwargs: Any) -> list[str]:
    """The app's task names, sorted, each with the asked attributes set on it: ``"name [attr=value ...]"``.

    Celery's ``registered`` (alias ``dump_tasks``); ``celery.*`` built-ins only with ``builtins=True``.
    """
    items = [item for item in (taskinfoitems or DEFAULT_TASK_INFO_ITEMS)
             if isinstance(item, str) and not item.startswith("_")]  # fmt: skip
    registry = state.app.tasks
    names = sorted(name for name in registry if builtins or not name.startswith("celery."))
    return [_task_info(registry[name], items) for name in names]


def _task_info(task: Any, items: list[str]) -> str:
    fields = {item: str(getattr(task, item, None)) for item in items if getattr(task, item, None) is not None}
    if not fields:
        return str(task.name)
    return "{} [{}]".format(task.name, " ".join(f"{key}={value}" for key, value in fields.items()))


@inspect_command()
def revoked(state: Any, **kwargs: Any) -> list[str]:
    """The ids this worker knows as revoked: those handed to it (``hello``) and the cancelled jobs of its tasks.

    A taskora revoke cancels the job in the store (no broadcast reaches the workers), so the store is
    where the worker learns of it.
    """
    from . import state as worker_state

    native = state.app.__taskora_app__
    stored = [job_id for name in state.worker.task_names for job_id in native.adapter.list_ids(name, "cancelled")]
    worker_state.revoked.purge()
    return list(dict.fromkeys([*worker_state.revoked, *stored]))


@inspect_command(visible=False, args=[("from_node", str)])
def hello(state: Any, from_node: str, revoked: Any = None, **kwargs: Any) -> dict[str, Any] | None:
    """Celery's mingle sync: take another node's revoked ids (stamped here, on this host's clock), answer ours.

    The node asking gets no answer from itself (None), as in Celery.
    """
    from . import state as worker_state

    if from_node == state.hostname:
        return None
    if revoked:
        worker_state.merge_revoked(revoked)
    worker_state.revoked.purge()
    return {"revoked": list(worker_state.revoked), "clock": next(_ticks)}


@control_command(name="revoke", args=[("task_id", str)])
def revoke(state: Any, task_id: Any, **kwargs: Any) -> dict[str, str]:
    """Remember ``task_id`` (one id or a list) as revoked here; the job itself was cancelled in the store."""
    from . import state as worker_state

    ids = [task_id] if isinstance(task_id, str) else list(task_id or ())
    worker_state.revoked.update(ids)
    return {"ok": f"tasks {', '.join(ids)} flagged as revoked"}
