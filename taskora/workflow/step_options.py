"""What a workflow step (``task.s(...)``) takes beyond delay/priority/ttl/meta/job_id: its job's
concurrency key and limit, and a clear refusal of the dispatch-time flow options.

A step's job is created when the workflow reaches it, under an id the workflow waits on. ``deduplicate``
and ``throttle`` may decide not to create it, and a ``debounce`` lets a later dispatch delete it: either
way the workflow would wait forever for a job that never runs, so a step refuses them (dispatch the task
on its own, or dedupe the whole workflow by its ``workflow_id``). A concurrency key only decides *when*
the created job starts, so it fits a step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import concurrency
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ..task import Task

#: The concurrency options a step takes (over its task's declaration, as at dispatch).
STEP_CLAIM_OPTIONS = frozenset({"concurrency_key", "concurrency_limit"})
#: Dispatch options a step refuses, each with the reason the error gives.
REFUSED_STEP_OPTIONS = {
    "deduplicate": "a step that is not created would leave its workflow waiting for a job that never runs",
    "throttle": "a step that is not created would leave its workflow waiting for a job that never runs",
    "debounce": "a later dispatch would delete the step's job and leave its workflow waiting for it",
    "throw_on_reject": "a step is never rejected (it takes no deduplicate or throttle)",
}


def refuse_flow_options(where: str, options: Mapping[str, Any]) -> None:
    """ConfigurationError naming a flow-control option given to a step, and why a step cannot take it."""
    for name, why in REFUSED_STEP_OPTIONS.items():
        if name in options:
            raise ConfigurationError(f"{where}: a workflow step does not take {name}: {why}; dispatch the "
                                     "task on its own for that")


def step_claim_fields(task: Task[Any, Any], options: Mapping[str, Any], where: str) -> dict[str, str]:
    """The job fields of a step's own ``concurrency_key``/``concurrency_limit`` (checked now, as the workflow
    is dispatched). A limit alone keeps the task's key, which the step's job gets when it is created."""
    given = {name: options[name] for name in STEP_CLAIM_OPTIONS if options.get(name) is not None}
    if not given:
        return {}
    if "concurrency_key" in given:
        return concurrency.job_fields(task.options, None, given, where)
    limit = concurrency.check_limit(given["concurrency_limit"], where)
    if not task.options.singleton and task.options.concurrency_key is None:
        raise ConfigurationError(f"{where}: concurrency_limit needs a concurrency_key (on this step or on the task)")
    return {"concurrencyLimit": str(limit)}
