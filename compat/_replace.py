"""``Task.replace(sig)``: a running task hands its place (and its result) to a new signature.

Celery re-sends the replacement under the replaced task's id. taskora keeps jobs by id per task, so
the replacement runs under ids of its own, followed by the builtin ``celery.replace_relay``:

* the replaced task's id records "replaced by <relay job>" in the backend, so ``AsyncResult(id)``
  reads (and ``get()`` waits for) the relay's result, which is the replacement's final value;
* when the replaced task was a node of a workflow (a chain step, a group or chord member, a chord
  body), it is detached from its node (``ctx.hand_off_workflow``) and the relay completes the node
  with the replacement's value, so the rest of the workflow goes on from there; when the replacement
  fails, the node fails with the same error (the ``workflow:failed`` listener below);
* the replaced task's callbacks move to the relay (they get the final value), its errbacks to the
  replacement; a group replacement joins its members into one list, as Celery's ``accumulate`` does.

In eager mode the replacement is applied in place and its value returned.
"""

from __future__ import annotations

import json
from typing import Any

from taskora.workflow import hooks

from .canvas import _chain, maybe_signature, signature
from .exceptions import Ignore, ImproperlyConfigured

__all__ = ["RELAY_TASK", "replace", "register_relay", "forward_failure"]

#: The builtin that ends every replacement and finishes the replaced task's workflow node.
RELAY_TASK = "celery.replace_relay"
#: The header naming the workflow node a relay finishes: ``[workflow id, node index]``.
TARGET_HEADER = "replace_target"


def replace(task: Any, sig: Any) -> Any:
    """Replace ``task``'s running invocation with ``sig`` (see the module docstring); raises ``Ignore``."""
    request = task.request
    sig = maybe_signature(sig, app=task.app)
    if sig is None or "chord" in sig.options:
        raise ImproperlyConfigured("A signature replacing a task must not be part of a chord" if sig is not None
                                   else "Task.replace needs a signature, got None")
    if isinstance(sig, _chain) and not sig.tasks:
        raise ImproperlyConfigured("Cannot replace with an empty chain")
    nesting = (request.replaced_task_nesting or 0) + 1
    _set_nesting(sig, nesting)
    if request.is_eager:
        return sig.apply().get(disable_sync_subtasks=False)
    ctx = getattr(request, "_ctx", None)
    target = ctx.hand_off_workflow() if ctx is not None else None
    relay_result = _send(task.app, sig, request, target, nesting)
    task.app.backend.mark_as_replaced(request.id, relay_result.id, RELAY_TASK)
    raise Ignore("Replaced by new task")


def _set_nesting(sig: Any, nesting: int) -> None:
    """Every task of the replacement knows how deep in replacements it is (``request.replaced_task_nesting``)."""
    for part in getattr(sig, "tasks", None) or [sig]:
        if getattr(part, "tasks", None):
            _set_nesting(part, nesting)
        else:
            part.options["headers"] = {**(part.options.get("headers") or {}), "replaced_task_nesting": nesting}


def _send(app: Any, sig: Any, request: Any, target: tuple[str, int] | None, nesting: int) -> Any:
    relay = signature(RELAY_TASK, app=app)
    relay.options["headers"] = {"replaced_task_nesting": nesting, TARGET_HEADER: list(target) if target else None}
    for callback in _as_list(request.callbacks):
        relay.link(callback)
    composed = sig | relay
    for errback in _as_list(request.errbacks):
        composed.link_error(errback)
    return composed.apply_async(root_id=request.root_id, parent_id=request.id)


def register_relay(app: Any) -> None:
    """The relay builtin: passes the replacement's value on, finishing the replaced task's workflow node."""

    @app.task(name=RELAY_TASK, bind=True, shared=False, lazy=False)
    def replace_relay(self: Any, value: Any) -> Any:
        target = (self.request.headers or {}).get(TARGET_HEADER)
        if target:
            _complete_node(app, target, value)
        return value


def _complete_node(app: Any, target: list[Any], value: Any) -> None:
    native = app.__taskora_app__
    hooks.on_completed(native, {"_wf": str(target[0]), "_wfNode": str(target[1])}, native.serializer.dumps(value))


def forward_failure(app: Any, event: Any) -> None:
    """A replacement's workflow failed: fail the replaced task's node with the same error."""
    for node in event.extra.get("settled") or ():
        fields = node.get("fields") or {}
        if fields.get("celery.task") != RELAY_TASK:
            continue
        target = _target_of(fields)
        if target:
            error = str(node.get("error") or "replacement failed")
            hooks.on_failed(app.__taskora_app__, {"_wf": str(target[0]), "_wfNode": str(target[1])}, error,
                            str(node.get("detail") or ""))


def _target_of(fields: dict[str, Any]) -> Any:
    try:
        headers = json.loads(fields.get("celery.headers") or "{}")
    except ValueError:
        return None
    return headers.get(TARGET_HEADER) if isinstance(headers, dict) else None


def _as_list(value: Any) -> list[Any]:
    if not value:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
