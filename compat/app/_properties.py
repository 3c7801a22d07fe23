"""A Celery message's AMQP properties (``request.properties``), kept with the job.

``apply_async`` passes options it does not know as message properties (``app_id``, ``user_id``,
``message_id``, ...), and tasks read them back from ``self.request.properties``; the ones a Redis
broker always sets (``correlation_id``, ``delivery_mode``, ``delivery_info``, ``priority``) are there too.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXTRA_PROPERTIES", "message_properties", "properties_read", "properties_to_keep"]

#: AMQP message properties a caller may set through ``apply_async`` (kombu's ``Message`` properties).
EXTRA_PROPERTIES = ("app_id", "user_id", "message_id", "type", "cluster_id", "expiration", "timestamp",
                    "reply_to", "content_type", "content_encoding")  # fmt: skip
#: kombu's persistent delivery mode (Celery's ``task_default_delivery_mode``).
PERSISTENT = 2


def _broker_properties(task_id: str, queue: str | None, delivery_mode: Any = None,
                       priority: Any = None) -> dict[str, Any]:
    """The properties a Redis broker sets on every message (a persistent, priority-0 one unless told)."""
    return {"correlation_id": task_id, "delivery_mode": delivery_mode or PERSISTENT,
            "delivery_info": {"exchange": "", "routing_key": queue}, "priority": priority or 0}


def message_properties(task_id: str, options: dict[str, Any]) -> dict[str, Any]:
    """The properties of the message this call would be: the broker's own, then those the caller gave."""
    properties = _broker_properties(task_id, options.get("queue"), options.get("delivery_mode"),
                                    options.get("priority"))
    properties.update((key, options[key]) for key in EXTRA_PROPERTIES if options.get(key) is not None)
    return properties


def properties_to_keep(task_id: str, queue: str | None, properties: dict[str, Any]) -> dict[str, Any] | None:
    """What the job keeps of ``properties``: only what differs from what ``properties_read`` rebuilds.

    Most messages carry only the broker's own properties, which the job's id and queue give back. Keeping
    them would cost ~150 bytes per job and, past Redis's 64-byte limit for a compact hash value, turn
    every waiting job's hash into a full hash table (about four times the memory)."""
    rebuilt = _broker_properties(task_id, queue)
    kept = {key: value for key, value in properties.items() if rebuilt.get(key, _ABSENT) != value}
    return kept or None


def properties_read(task_id: str, queue: str | None, kept: dict[str, Any] | None) -> dict[str, Any]:
    """``request.properties`` of a job: the broker's own, rebuilt, then what the job kept (read once per job a
    worker runs, so without ``message_properties``' scan of the caller's options)."""
    properties = _broker_properties(task_id, queue)
    if kept:
        properties.update(kept)
    return properties


_ABSENT = object()
