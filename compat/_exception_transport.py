"""Exception transport: the stored (type, module, args) of a failure rebuilt as an exception (§5.5).

A worker stores an exception as JSON ``{"type", "module", "args", "message"}``; the client looks the
class up among modules it has already imported (it never imports one on a stored name's say-so), and
an unknown class becomes a synthetic exception class of the same name, as Celery does.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .exceptions import SecurityError

__all__ = ["rebuild_exception", "failure_exception", "retry_exception", "loads_detail", "text", "RETRY_SIGNAL"]

#: Module and name of the native retry signal whose error detail carries the retry's exception.
RETRY_SIGNAL = ("taskora.compat.app._trace", "RetrySignal")

#: Native error types the engine stores under stable names, shown as the Celery type a Celery user expects.
_AS_CELERY = {("taskora.errors", "DependencyFailedError"): ("taskora.compat.exceptions", "ChordError"),
              ("taskora.errors", "UnknownTaskError"): ("taskora.compat.exceptions", "NotRegistered")}

#: Synthetic classes made for stored exception types that are not importable here (one per name).
_synthetic: dict[tuple[str, str], type[Exception]] = {}


def text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _lookup_class(module: str, qualname: str) -> Any:
    target: Any = sys.modules.get(module)
    for part in qualname.split("."):
        if target is None:
            return None
        target = getattr(target, part, None)
    return target


def rebuild_exception(detail: dict[str, Any]) -> BaseException:
    """The exception a worker stored (type, module, args), rebuilt the way Celery does (§5.5).

    The class is looked up among modules already imported here; an unknown class becomes a synthetic
    exception class of the same name; a name that is not an exception class is a ``SecurityError``; a class
    that cannot be built from the stored args becomes ``Exception("<class ...>([args])")``, as in Celery.
    """
    module, qualname = str(detail.get("module") or "builtins"), str(detail.get("type") or "Exception")
    module, qualname = _AS_CELERY.get((module, qualname), (module, qualname))
    args = detail.get("args")
    args = list(args) if isinstance(args, list) else [detail.get("message", "")]
    cls = _lookup_class(module, qualname)
    if cls is None:
        cls = _synthetic.setdefault((module, qualname), type(qualname.rsplit(".", 1)[-1], (Exception,),
                                                              {"__module__": module}))
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        return SecurityError(f"Expected an exception class, got {module}.{qualname} with payload {args!r}")
    try:
        return cls(*args)
    except Exception:  # its __init__ refuses the stored args: Celery's stand-in names the class and the args
        return Exception(f"{cls}({args})")


def loads_detail(raw: Any) -> dict[str, Any]:
    try:
        detail = json.loads(text(raw) or "")
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def failure_exception(job: dict[str, Any]) -> BaseException:
    """The exception of a failed job (its stored detail, else its error message)."""
    detail = loads_detail(job.get("errorDetail"))
    if detail:
        return rebuild_exception(detail)
    return Exception(text(job.get("error")) or "unknown error")


def retry_exception(job: dict[str, Any]) -> Any:
    """The exception a job in RETRY is waiting out (``self.retry(exc=...)``), or None."""
    detail = loads_detail(job.get("errorDetail"))
    if (detail.get("module"), detail.get("type")) == RETRY_SIGNAL and detail.get("args"):
        inner = loads_detail(detail["args"][0])
        return rebuild_exception(inner) if inner else None
    return rebuild_exception(detail) if detail else None
