"""How a failure is written down: the error text and detail a job hash keeps, safe for any exception.

A handler may raise anything, including an exception whose ``__str__`` itself raises; the worker must still
record the failure (a job never stays active because its error could not be printed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..tracebacks import format_exception


@dataclass(frozen=True)
class FailurePlan:
    """What one failed attempt writes (``Outcomes.plan_failure``), decided before it is sent: the job's error
    text and detail, and for a retry its delay and new data. A retry's plan can go out with the next claim
    while the slot runs the job it holds (``ClaimsAhead.fail_ahead``); a final failure is sent and waited for."""

    text: str
    detail: str
    retry_delay_ms: int | None
    retry_data: str | bytes | None = None

    @property
    def retries(self) -> bool:
        return self.retry_delay_ms is not None


def error_message(error: BaseException) -> str:
    """``str(error)``, or a placeholder saying why that failed."""
    try:
        return str(error)
    except Exception as exc:  # an exception type with a broken __str__
        try:
            why = f"{type(exc).__name__}: {exc}"
        except Exception:
            why = type(exc).__name__
        return f"<str() of this {type(error).__name__} raised {why}>"


def error_text(error: BaseException) -> str:
    """The ``error`` field of a failed job: the bare message, as the TypeScript taskora writes it (its
    ``error.message``), or the type's name when the message is empty. The type is kept in ``errorDetail``
    (see ``error_detail``), and shown by ``JobFailedError``."""
    return error_message(error) or type(error).__name__


def described(error: BaseException) -> str:
    """``Type: message``, for an error quoted inside another one's message."""
    return f"{type(error).__name__}: {error_message(error)}"


def error_detail(error: BaseException) -> str:
    """What the job hash keeps about an exception beyond its text: type, module, arguments, traceback."""
    try:
        args = json.loads(json.dumps(list(error.args), default=repr))
    except Exception:  # unserializable arguments, or a repr that raises
        args = [_safe_repr(a) for a in error.args]
    return json.dumps({
        "type": type(error).__qualname__,
        "module": type(error).__module__,
        "message": error_message(error),
        "args": args,
        "traceback": format_exception(error),
    })


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"
