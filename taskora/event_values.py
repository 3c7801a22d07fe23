"""What ``on("completed")`` and ``on("failed")`` listeners receive: the values a producer sees, not the stored
encodings. A completed event's ``result`` is what ``handle.result()`` returns (deserialized, then an instance
of the task's output model when it declares one), as the TypeScript taskora hands its listeners the
deserialized result; the stored text stays on ``raw_result``. A failed event keeps ``error`` as the stored
message (TypeScript's string) and adds ``exception``, the JobFailedError ``handle.result()`` raises (with the
original exception's type name when a Python worker recorded it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import JobFailedError, ValidationError, error_type_of
from .validation import typed_result

if TYPE_CHECKING:
    from .app import Taskora
    from .events import Event

#: Job fields the completed/failed/active events are enriched with (one read per event).
JOB_FIELDS = ("attempt", "result", "error", "errorDetail", "processedOn", "finishedOn")


def set_result(app: Taskora, event: Event, event_fields: dict[str, Any], job: dict[str, Any]) -> None:
    """Give a completed event its result: from the job, else from the event (a small result rides on it, so a
    job completed with ``keep_result=False`` still has one); nothing when neither carries it."""
    raw = job.get("result")
    if raw is None:
        raw = event_fields.get("result")
    if raw is None:
        return
    event.raw_result = raw
    value = app.serializer.loads(raw)
    try:
        event.result = typed_result(app, event.task, value)
    except ValidationError:  # a stored result its output model now rejects: the listener still gets the value
        event.result = value


def set_failure(event: Event, job: dict[str, Any]) -> None:
    """Give a failed event the error as the producer sees it, beside the stored message."""
    event.error = _text(job.get("error")) or event.error
    event.exception = JobFailedError(event.id, event.error or "unknown error", event.task,
                                     error_type_of(job.get("errorDetail")))


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
