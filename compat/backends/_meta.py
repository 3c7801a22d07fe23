"""The stored meta record of an explicit backend write (``store_result``, ``mark_as_*``, ``forget``).

Encoded with the app's serializer; an exception result travels as its (type, module, args) detail, the
same form a worker stores for a failed job, and is rebuilt by the same code on the reading side.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from .. import states
from .._exception_transport import rebuild_exception

__all__ = ["StoredMeta", "exception_detail", "META_FIELD"]

#: The job-hash field an explicit write is kept in when the id is a job's.
META_FIELD = "celery.meta"


def exception_detail(exc: BaseException) -> dict[str, Any]:
    """An exception as the JSON-safe detail ``rebuild_exception`` reads back."""
    try:
        args = json.loads(json.dumps(list(exc.args), default=repr))
    except (TypeError, ValueError):
        args = [repr(a) for a in exc.args]
    return {"type": type(exc).__qualname__, "module": type(exc).__module__, "args": args, "message": str(exc)}


@dataclass
class StoredMeta:
    """One explicit write: the state, its result, when it was stored (epoch ms) and whether the job had finished."""

    status: str
    result: Any
    stored_ms: int
    traceback: str | None = None
    name: str | None = None
    forgotten: bool = False
    #: ``{"id", "task"}`` of the job whose outcome this id's result is (``Task.replace``).
    replaced_by: dict[str, Any] | None = None
    #: Written after the job had finished: it overrides the job's outcome (otherwise the outcome wins).
    after_finish: bool = False

    def info(self) -> Any:
        """The result as ``AsyncResult.result`` shows it (a stored exception rebuilt)."""
        if self.status in states.EXCEPTION_STATES and isinstance(self.result, dict) and "__exc__" in self.result:
            return rebuild_exception(self.result["__exc__"])
        return self.result

    def encode(self, serializer: Any) -> Any:
        result = {"__exc__": exception_detail(self.result)} if isinstance(self.result, BaseException) else self.result
        raw = serializer.dumps({"status": self.status, "result": result, "stored": self.stored_ms,
                                "traceback": self.traceback, "name": self.name, "forgotten": self.forgotten,
                                "replaced_by": self.replaced_by, "after_finish": self.after_finish})
        # job-hash fields are read back as text: a binary serializer's output (pickle) travels as base64
        return "b64:" + base64.b64encode(raw).decode() if isinstance(raw, bytes) else "txt:" + raw

    @classmethod
    def decode(cls, serializer: Any, raw: Any) -> StoredMeta | None:
        """The record in ``raw`` (None when absent or not a record this module wrote)."""
        if raw is None:
            return None
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        try:
            data = serializer.loads(base64.b64decode(text[4:]) if text.startswith("b64:") else text[4:])
        except Exception:  # a foreign or corrupt value is treated as no explicit write
            return None
        if not isinstance(data, dict) or "status" not in data or "stored" not in data:
            return None
        return cls(status=str(data["status"]), result=data.get("result"), stored_ms=int(data["stored"]),
                   traceback=data.get("traceback"), name=data.get("name"), forgotten=bool(data.get("forgotten")),
                   replaced_by=data.get("replaced_by") if isinstance(data.get("replaced_by"), dict) else None,
                   after_finish=bool(data.get("after_finish")))
