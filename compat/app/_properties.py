"""A Celery message's AMQP properties (``request.properties``), kept with the job.

``apply_async`` passes options it does not know as message properties (``app_id``, ``user_id``,
``message_id``, ...), and tasks read them back from ``self.request.properties``; the ones a Redis
broker always sets (``correlation_id``, ``delivery_mode``, ``delivery_info``, ``priority``) are there too.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXTRA_PROPERTIES", "message_properties"]

#: AMQP message properties a caller may set through ``apply_async`` (kombu's ``Message`` properties).
EXTRA_PROPERTIES = ("app_id", "user_id", "message_id", "type", "cluster_id", "expiration", "timestamp",
                    "reply_to", "content_type", "content_encoding")  # fmt: skip
#: kombu's persistent delivery mode (Celery's ``task_default_delivery_mode``).
PERSISTENT = 2


def message_properties(task_id: str, options: dict[str, Any]) -> dict[str, Any]:
    """The properties of the message this call would be: the broker's own, then those the caller gave."""
    properties: dict[str, Any] = {
        "correlation_id": task_id, "delivery_mode": options.get("delivery_mode") or PERSISTENT,
        "delivery_info": {"exchange": "", "routing_key": options.get("queue")},
        "priority": options.get("priority") or 0,
    }  # fmt: skip
    properties.update((key, options[key]) for key in EXTRA_PROPERTIES if options.get(key) is not None)
    return properties
