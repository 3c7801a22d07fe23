"""The worker half of the canvas: Celery's ``celery.map``/``celery.starmap`` builtin tasks, chord
errbacks fired when a header member fails, and ``GroupResult.save()/restore()``.

A chord body that never runs (a header member failed) is settled FAILURE with ``ChordError`` by the
native engine in the worker that ran the failing member; the engine announces it with the in-process
``workflow:failed`` event, and :func:`attach` turns that into Celery's body errbacks, run there:
new-style ``(request, exc, traceback)`` errbacks inline, old-style ones sent with the body's id.
"""

from __future__ import annotations

import json
from typing import Any

from taskora.errors import TaskoraError
from taskora.workflow import delete_group, load_group, save_group
from taskora.workflow.extend import add_to_fan_in
from taskora.workflow.failure_origin import fan_ins_reached_by_a_failure

from . import _canvas_ids, _replace, _state, states
from .app import _execute
from .app._trace import TraceOutcome
from .app.task import Context
from .canvas import Signature, maybe_signature, signature
from .exceptions import ChordError
from .result import AsyncResult, GroupResult

#: Builtins this module implements (Celery registers them on every app).
#: The builtin a canvas added to a running chord runs as (one node, replaced by the canvas when it runs).
ADDED_CANVAS_TASK = "celery.added_canvas"
CANVAS_BUILTINS = ("celery.map", "celery.starmap", "celery.chord_unlock", "celery.replace_relay", "celery.accumulate",
                   ADDED_CANVAS_TASK)
#: Seconds between two checks of a lazy chord's header (Celery's ``chord_unlock`` default interval).
CHORD_UNLOCK_INTERVAL = 1.0
#: How long a saved group is kept when ``result_expires`` is unset (Celery's default, one day).
DEFAULT_GROUP_TTL = 86400.0


def register_builtins(app: Any) -> None:
    """``celery.map`` / ``celery.starmap``: call a task once per item inside one task, return the list."""
    @app.task(name="celery.map", shared=False, lazy=False)
    def xmap(task: Any, it: Any) -> list[Any]:
        fn = signature(task, app=app).type
        return [fn(item) for item in it]

    @app.task(name="celery.starmap", shared=False, lazy=False)
    def xstarmap(task: Any, it: Any) -> list[Any]:
        fn = signature(task, app=app).type
        return [fn(*item) for item in it]

    @app.task(name="celery.accumulate", shared=False, lazy=False)
    def accumulate(*args: Any, **kwargs: Any) -> Any:
        """Celery's ``accumulate``: its arguments, or the one at ``index`` (joins a group's list into one value)."""
        index = kwargs.get("index")
        return args[index] if index is not None else args

    @app.task(name=ADDED_CANVAS_TASK, bind=True, shared=False, lazy=False)
    def added_canvas(self: Any, canvas: dict[str, Any]) -> None:
        """A canvas given to ``add_to_chord``: its node is handed to the canvas, whose final value it gets."""
        raise self.replace(signature(canvas, app=app))

    @app.task(name="celery.chord_unlock", shared=False, lazy=False, bind=True, max_retries=None,
              ignore_result=True)  # fmt: skip
    def chord_unlock(self: Any, group_id: str, members: list[dict[str, Any]], body: Any,
                     interval: float = CHORD_UNLOCK_INTERVAL) -> None:  # fmt: skip
        unlock_lazy_chord(self, app, members, body, interval)

    _replace.register_relay(app)


def unlock_lazy_chord(task: Any, app: Any, members: list[dict[str, Any]], body: Any, interval: float) -> None:
    """A lazy chord's body, sent once every header member is ready (else checked again in ``interval`` s).

    Chords whose header is a generator are sent member by member as the generator yields (Celery's
    incremental header); their body cannot be part of one native workflow, so this builtin joins them.
    A failed member fails the body with ``ChordError`` (stored for the body's id), as Celery does.
    """
    results = [AsyncResult(m["id"], task_name=m.get("task"), app=app) for m in members]
    if not all(result.ready() for result in results):
        raise task.retry(countdown=interval)
    body_sig = signature(body, app=app)
    failed = next((r for r in results if r.state in states.PROPAGATE_STATES), None)
    if failed is not None:
        error = ChordError(f"Dependency {failed.id} raised {failed.result!r}")
        app.backend.mark_as_failure(_canvas_ids.lazy_chord_result_id(body_sig), error)
        return
    body_sig.apply_async(([result.result for result in results],))


def add_to_chord(task: Any, sig: Any, lazy: bool = False) -> Any:
    """Celery's ``Task.add_to_chord``: from inside a chord header task, add the task ``sig`` to that chord's
    header; the body waits for it and gets its result last in its list. The task is sent at once. A canvas
    (``group(...) | tsum.s()``) is added as one node of the builtin ``celery.added_canvas``, which replaces
    itself with the canvas when it runs (``Task.replace``): the body gets the canvas's final value.

    Raises:
        ValueError: the running task is not a member of a chord's header (Celery's message).
        NotImplementedError: ``lazy=True`` (the task would be sent later by the caller, outside the chord).
    """
    ctx = getattr(task.request, "_ctx", None)
    wf_id, node = (ctx.meta("_wf"), ctx.meta("_wfNode")) if ctx is not None else (None, None)
    if not wf_id or node in (None, ""):
        raise ValueError("Current task is not member of any chord")
    if lazy:
        raise NotImplementedError("Task.add_to_chord sends the task at once (lazy=False), not lazy=True")
    sig = maybe_signature(sig, app=task.app).clone()
    if type(sig) is not Signature:  # a chain, group or chord: one node that becomes the canvas
        sig = signature(ADDED_CANVAS_TASK, args=(dict(sig),), app=task.app, immutable=True)
    native = task.app.__taskora_app__
    try:
        job_id = add_to_fan_in(native, str(wf_id), int(node), sig._native(task.app))
    except TaskoraError as exc:
        raise ValueError(f"Current task is not member of any chord: {exc}") from exc
    return task.app.AsyncResult(job_id, task_name=sig.task)


def attach(app: Any, native: Any) -> None:
    """Called when ``app``'s native app is made: builtins get engine twins, chord errbacks a listener."""
    for name in CANVAS_BUILTINS:
        task = app._tasks.get(name)
        if task is not None and name not in native.tasks:
            app._register_native(task, app._home_queue(task))
    native.on("workflow:failed", lambda event: fire_chord_errbacks(app, event))
    native.on("workflow:failed", lambda event: _replace.forward_failure(app, event))


def fire_chord_errbacks(app: Any, event: Any) -> None:
    """Run the errbacks of every chord body the failed workflow settled with a ChordError because a header part
    failed (itself, or as a chain's step), not because of another body's ChordError: Celery's rule, see
    ``taskora/workflow/failure_origin.py``."""
    bodies = [(node, fields, errbacks) for node in event.extra.get("settled") or ()
              if node.get("fanin") and node.get("state") == "failed"
              for fields in [node.get("fields") or {}] for errbacks in [_json(fields.get("celery.link_error"))]
              if errbacks]  # fmt: skip
    if not bodies:
        return
    from .canvas import PASSES_FAILURE_ON

    reached = fan_ins_reached_by_a_failure(app.__taskora_app__, event.id, passes_on=PASSES_FAILURE_ON)
    for node, fields, errbacks in bodies:
        if node.get("index") in reached:
            _fire(app, node, fields, errbacks)


def _fire(app: Any, node: dict[str, Any], fields: dict[str, str], errbacks: list[Any]) -> None:
    detail = _json(node.get("detail")) or {}
    exc = ChordError(detail.get("message") or node.get("error") or "chord header failed")
    request = Context(id=node["job_id"], task=fields.get("celery.task"), args=[], kwargs={}, retries=0,
                      is_eager=False, called_directly=False, root_id=fields.get("celery.root_id") or node["job_id"],
                      parent_id=fields.get("celery.parent_id"), errbacks=errbacks, callbacks=None,
                      delivery_info={"exchange": "", "routing_key": fields.get("celery.queue")},
                      hostname=app.hostname)  # fmt: skip
    outcome = TraceOutcome(states.FAILURE, exc, None)
    for errback in errbacks:
        _execute._errback(app, request, outcome, _execute._signature(errback, app), eager=False)


def _json(raw: Any) -> Any:
    if not raw:
        return None
    try:
        return _execute.loads_meta(raw)
    except ValueError:
        return None


# -- GroupResult.save() / restore() ------------------------------------------------------------------
def _group_ttl(app: Any) -> float:
    expires = app.conf.effective().result_expires
    return float(expires) if expires else DEFAULT_GROUP_TTL


def _member(result: Any) -> str:
    if isinstance(result, GroupResult):
        raise TypeError(f"GroupResult.save(): nested group {result.id} is not supported; save it on its own")
    return json.dumps({"id": result.id, "task": getattr(result, "_task_name", None)})


def _save(self: GroupResult, backend: Any = None) -> GroupResult:
    """Store this group's member ids under its id (kept for ``result_expires``) so ``restore`` finds it."""
    if not self.id:
        raise ValueError("GroupResult.save() needs a group id")
    save_group(self.app.__taskora_app__, self.id, [_member(r) for r in self.results], ttl=_group_ttl(self.app))
    return self


def _restore(cls: type[GroupResult], id: str, backend: Any = None, app: Any = None) -> GroupResult | None:
    """The group saved under ``id`` (None when it was never saved or has expired)."""
    app = app or _state.get_current_app()
    members = load_group(app.__taskora_app__, id)
    if members is None:
        return None
    results = [AsyncResult(m["id"], task_name=m.get("task"), app=app) for m in map(json.loads, members)]
    return cls(id, results, app=app)


def _delete(self: GroupResult, backend: Any = None) -> None:
    """Forget the saved group (the members' results stay)."""
    if self.id:
        delete_group(self.app.__taskora_app__, self.id)


def install_group_persistence() -> None:
    """Give ``taskora.compat.result.GroupResult`` Celery's ``save``/``restore``/``delete``."""
    GroupResult.save = _save  # type: ignore[attr-defined]
    GroupResult.restore = classmethod(_restore)  # type: ignore[attr-defined]
    GroupResult.delete = _delete  # type: ignore[attr-defined]
