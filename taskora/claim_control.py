"""What a dispatch writes on a job for the claim to enforce: its ``expireAt`` (taskora.ttl) and its
concurrency key and limit (taskora.concurrency), from the dispatch's options over the task's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import concurrency
from .ttl import job_expiry

if TYPE_CHECKING:
    from .task import Task

#: Dispatch options read here (``ttl`` was accepted before this module existed, and stays listed in task.py).
CLAIM_DISPATCH_OPTIONS = concurrency.DISPATCH_OPTIONS | {"ttl"}


def claims_nothing(task: Task[Any, Any], options: Mapping[str, Any]) -> bool:
    """True when ``claim_control`` would add nothing: a task with no ttl, no concurrency key and not a
    singleton, dispatched without ``ttl``/``concurrency_key``/``concurrency_limit`` (None counts as not
    given). Most dispatches, the Celery front's included; they skip it (taskora/task.py)."""
    defaults = task.options
    if defaults.ttl is not None or defaults.concurrency_key is not None or defaults.singleton:
        return False
    return (not options or CLAIM_DISPATCH_OPTIONS.isdisjoint(options)
            or all(options.get(name) is None for name in CLAIM_DISPATCH_OPTIONS))


def claim_control(task: Task[Any, Any], data: Any, options: Mapping[str, Any],
                  delay_ms: int) -> tuple[int, dict[str, str]]:  # fmt: skip
    """The job's ``expireAt`` (0: none; its ttl counts from when it is due) and its extra fields.
    Raises ConfigurationError naming the option before anything is written."""
    where = f"{task.name}.dispatch"
    expire_at, fields = job_expiry(options.get("ttl"), task.options.ttl,
                                   lambda: task.app.adapter.now_ms() + delay_ms, where)
    return expire_at, {**fields, **concurrency.job_fields(task.options, data, options, where)}


def node_claim_fields(task: Task[Any, Any], data: str | bytes) -> dict[str, str]:
    """A workflow step's concurrency key and limit, from its task's declaration (a key function gets the
    step's input). A workflow's ttl is its own (``dispatch(ttl=...)`` on the workflow), not the task's."""
    options = task.options
    if not options.singleton and options.concurrency_key is None:
        return {}
    value = task.app.serializer.loads(data) if callable(options.concurrency_key) else None
    return concurrency.job_fields(options, value, {}, f"{task.name} (workflow step)")
