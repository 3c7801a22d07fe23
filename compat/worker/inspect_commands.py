"""Celery's inspect commands beyond taskora's own (``clock``, ``active_queues``, ``query_task``, ``report``,
``conf``), answered by every ``taskora worker`` running a Celery app; ``app.control.inspect()`` asks them.
"""

from __future__ import annotations

import itertools
import platform
from typing import Any

from .control import inspect_command

__all__ = ["clock", "active_queues", "query_task", "report", "conf"]

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
    from ..app.control import Inspect

    wanted = {ids} if isinstance(ids, str) else set(ids or ())
    running = [job for job in state.worker.handle("active", {}) if job["id"] in wanted]
    inspect = Inspect(state.app)
    return {job["id"]: ["active", inspect._request(job["task"], job["id"], state.hostname)] for job in running}


@inspect_command()
def report(state: Any, **kwargs: Any) -> dict[str, str]:
    from taskora import __version__ as engine_version

    from .. import __version__ as api_version

    lines = [f"software -> celery:{api_version} (taskora {engine_version}) kombu:n/a py:{platform.python_version()}",
             f"platform -> system:{platform.system()} arch:{platform.machine()}",
             f"loader -> {type(state.app).__module__}", "settings -> transport:redis results:taskora",
             state.app.conf.humanize()]  # fmt: skip
    return {"ok": "\n".join(lines)}


@inspect_command(args=[("with_defaults", bool)])
def conf(state: Any, with_defaults: bool = False, **kwargs: Any) -> dict[str, Any]:
    """The worker app's settings (secrets censored), with Celery's defaults when asked."""
    return state.app.conf.table(with_defaults=with_defaults)
