"""ExecutionResult: what ``TestRunner.execute`` saw of one job, read back from the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import TaskoraError
from ..handles import ResultHandle


@dataclass
class ExecutionResult:
    """The job's final state and everything it recorded (seeds: ExecutionResult)."""

    id: str
    state: str | None
    result: Any = None
    error: str | None = None
    attempts: int = 0
    progress: Any = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    #: The job's ResultHandle, for anything else (``handle.fields()``, ``handle.result()``...).
    handle: ResultHandle[Any] | None = None


def read_outcome(handle: ResultHandle[Any]) -> ExecutionResult:
    """Read a job's state, result, error, attempts, progress and logs through its handle."""
    fields = handle.fields() or {}
    outcome = ExecutionResult(id=handle.id, state=fields.get("state"), error=fields.get("error"),
                              attempts=int(fields.get("attempt", 0)), logs=handle.logs(),
                              progress=handle.progress(), handle=handle)
    if outcome.state == "completed":
        try:
            outcome.result = handle.result(timeout=0)
        except TaskoraError:  # completed without a kept result (keep_result=False)
            outcome.result = None
    return outcome
