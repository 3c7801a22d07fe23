"""Sending a canvas: Celery's signatures turned into one native workflow, and the results read back from it.

The canvas classes (``canvas.py``) call these helpers from ``apply_async``; they work on the sending copies
(cloned signatures), in place: Celery's partial application and delays on the first tasks, a chain's or
group's links moved to the tasks that carry them, the task ids ``_to_native`` assigns, and the ``AsyncResult``
and ``GroupResult`` chains built from those ids. They test the kind of a signature with ``is_kind``
(``_signature.py``), as ``canvas.py`` imports this module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from taskora.workflow import Chain as NativeChain
from taskora.workflow import Chord as NativeChord
from taskora.workflow import Group as NativeGroup
from taskora.workflow import Signature as NativeSignature

from . import _canvas_ids
from ._signature import Signature, _as_list, is_kind, maybe_signature, signature
from .result import allow_join_result

#: Job field of the first tasks of a chord sent inside another canvas: when a failure settles them (the chord is in
#: a failed chord's body), Celery runs that chord's body errbacks too (see ``_canvas_worker.fire_chord_errbacks``).
PASSES_FAILURE_ON = "celery.chord_header"


def _always_eager(app: Any) -> bool:
    return bool(app.conf.task_always_eager)


def _eagerly(canvas: Signature, args: Any, kwargs: Any) -> Any:
    """``task_always_eager``: Celery's canvases run inline with ``apply()`` (their results may be waited on
    inside, as each step's value feeds the next), instead of being sent to workers that may not exist."""
    with allow_join_result():
        return canvas.apply(args, kwargs)


def _header_members(header: Any, app: Any) -> list[Signature]:
    """A chord's header as its list of members, as Celery reads it: a group or a chain gives its tasks,
    any other single signature (a chord, a plain task) is the one member, a list is signatures: copies, as
    Celery's ``_maybe_group`` makes them, so linking the chord's header tasks leaves the caller's list alone."""
    if isinstance(header, dict):
        header = maybe_signature(header, app=app)
    if is_kind(header, "group", "chain"):
        return header.tasks
    if isinstance(header, Signature):
        return [header]
    return [signature(t, app=app) for t in header]


def _unroll_group(step: Any) -> Signature:
    """A chain step that is a group of one task is that task, as Celery's ``maybe_unroll_group`` sends it: the
    next step gets its value, not a one-item list (``chain(group(add.s(0, 0)), add.s(-1))`` gives -1)."""
    if is_kind(step, "group") and len(step.tasks) == 1:
        return step.tasks[0]
    return step


def _is_empty(sig: Any) -> bool:
    """An empty group or chain (or a chain of only such): a step Celery skips when it sends a chain."""
    if is_kind(sig, "group", "chain") and not is_kind(sig, "chord"):
        return all(_is_empty(t) for t in sig.tasks)
    return False


def _members(sig: Any) -> list[Signature]:
    """A group's (or chord header's) tasks as Celery sends them: nested groups unrolled into it (their
    members run in parallel with the others, their results in line), empty chains and groups left out."""
    members: list[Signature] = []
    for task in sig.tasks:
        if is_kind(task, "group"):
            members.extend(_members(task))
        elif not _is_empty(task):
            members.append(task)
    return members


def _apply_lazy_chord(header: Iterator[Any], body: Signature, args: Any, kwargs: Any, app: Any) -> Any:
    """Send each header member as the generator yields it, then ``celery.chord_unlock`` to join them."""
    group_id = str(uuid.uuid4())
    body_id = _canvas_ids.lazy_chord_result_id(body)
    results = []
    for item in header:
        member = maybe_signature(item, app=app)
        member = member.clone(args, kwargs) if (args or kwargs) else member
        results.append(member.apply_async(group_id=group_id))
    members = [{"id": r.id, "task": getattr(r, "_task_name", None)} for r in results]
    app.send_task("celery.chord_unlock", (group_id, members, dict(body)))
    parent = app.GroupResult(group_id, results)
    return app.AsyncResult(body_id, task_name=None, parent=parent)


def _is_plain(sig: Signature) -> bool:
    """One task (xmap and xstarmap included: each is one node), not a canvas of several."""
    return not is_kind(sig, "chain", "group", "chord", "chunks")


def _to_native(sig: Any, app: Any) -> Any:
    """Any canvas kind as a native composition (a plain signature, xmap and xstarmap are one node)."""
    if is_kind(sig, "chain"):
        _links_to_steps(sig)
        sig["kwargs"]["tasks"] = [_unroll_group(step) for step in sig.tasks]  # the sending copy: results follow it
        return NativeChain(*[_to_native(s, app) for s in sig.tasks])
    if is_kind(sig, "group"):
        _group_errbacks_to_members(sig)
        return NativeGroup(*[_to_native(m, app) for m in _members(sig)])
    if is_kind(sig, "chord"):
        header = [_header_member_native(m, app) for m in _members(sig)]
        for entry in (node for member in header for node in _entry_nodes(member)):
            entry.options["meta"][PASSES_FAILURE_ON] = "1"
        return NativeChord(NativeGroup(*header), _to_native(sig.body, app))
    if is_kind(sig, "chunks"):
        return _to_native(sig.group(), app)
    return sig._native(app)


#: The builtin that joins a header member's list of results into one value (Celery's ``accumulate``).
ACCUMULATE_TASK = "celery.accumulate"


def _header_member_native(member: Signature, app: Any) -> Any:
    """A chord header member as a native composition whose result is ONE value of the body's list: a member
    whose result is a list (a chain ending in a group, or in a chord with a group body) is followed by
    ``celery.accumulate``, which gets that list and returns it whole, so the body gets ``[[42, 42]]`` as with
    Celery, where the member's GroupResult is one header result (the engine's fan-in would flatten it)."""
    native = _to_native(member, app)
    if not _gives_a_list(member):
        return native
    joiner = signature(ACCUMULATE_TASK, kwargs={"index": 0}, app=app)
    return NativeChain(native, joiner._native(app))


def _gives_a_list(sig: Any) -> bool:
    """A canvas whose result is a group's list of results: a group, or a chain or chord that ends in one."""
    if is_kind(sig, "chord"):
        return _gives_a_list(sig.body)
    if is_kind(sig, "chain"):
        steps = [step for step in sig.tasks if not _is_empty(step)]
        return bool(steps) and _gives_a_list(steps[-1])
    return is_kind(sig, "group") and not _is_empty(sig)


def _result_task(body: Any) -> Signature | None:
    """The task whose result a chord with ``body`` gives: the body, or a body chain's last task (None for a group or
    chord body, whose result is not one task's)."""
    while is_kind(body, "chain") and body.tasks:
        body = body.tasks[-1]
    return body if isinstance(body, Signature) and _is_plain(body) and not is_kind(body, "chain") else None


def _give_result_id(body: Any, task_id: str | None) -> None:
    """``chord(...).apply_async(task_id=X)``: X is the id of the chord's result, its body's (last) task."""
    target = _result_task(body) if task_id else None
    if target is not None:
        target.options["task_id"] = task_id


def _first_tasks(sig: Any) -> Iterator[Signature]:
    """The tasks ``sig`` starts with: a chain's first step's, each member's of a group or chord, else ``sig``."""
    if is_kind(sig, "chain"):
        if sig.tasks:
            yield from _first_tasks(sig.tasks[0])
    elif is_kind(sig, "group", "chord"):
        for member in sig.tasks:
            yield from _first_tasks(member)
    else:
        yield sig


def _prepend_in_place(sig: Signature, args: tuple[Any, ...]) -> None:
    """Celery's partial application of ``args`` to what ``sig`` starts with (an immutable task ignores them), in
    place on a sending copy: a chord's header members (``chain(chord(...), x).apply_async((1,))``)."""
    for task in _first_tasks(sig):
        if not task.immutable:
            task["args"] = tuple(args) + task.args


#: The send options of a group or chord that delay its members (Celery #7851: ``(group(a, b) | c).apply_async(
#: countdown=2)`` delays the header tasks; the body runs when they are done).
_DELAYING_OPTIONS = ("countdown", "eta")


def _delay_entries(members: list[Signature], options: dict[str, Any]) -> None:
    """Give each member's first tasks the group's or chord's ``countdown``/``eta``, in place on the sending
    copies, as Celery passes a group's send options to each member's ``apply_async``."""
    timing = {key: options[key] for key in _DELAYING_OPTIONS if options.get(key) is not None}
    for member in members if timing else ():
        for task in _first_tasks(member):
            task.options.update(timing)


def _entry_nodes(native: Any) -> list[NativeSignature]:
    """The native signatures a composition starts with (those its upstream feeds)."""
    if isinstance(native, NativeChain):
        return _entry_nodes(native.steps[0])
    if isinstance(native, NativeGroup):
        return [node for member in native.members for node in _entry_nodes(member)]
    if isinstance(native, NativeChord):
        return _entry_nodes(native.header)
    return [native]


def _link_error_to_body(body: Signature, errback: Any) -> None:
    """A chord's ``link_error`` option on its body, as Celery 5.7's ``_add_body_callbacks``: a group body with its own
    ``link_error`` (which replaces its tasks' when it runs) gets it there, any other body through ``link_error``."""
    if is_kind(body, "group") and body.options.get("link_error"):
        body.options["link_error"] = [*_as_list(body.options["link_error"]), errback]
    else:
        body.link_error(errback)


def _group_errbacks_to_members(sig: Any) -> None:
    """A group's own ``link_error`` option replaces its tasks' errbacks when it runs (Celery's group); a canvas
    member (a chord passes them on to its body) links them. In place, on the sending copy."""
    errbacks = _as_list(sig.options.pop("link_error", None))
    for member in sig.tasks if errbacks else ():
        if _is_plain(member):
            member.options["link_error"] = list(errbacks)
        else:
            for errback in errbacks:
                member.link_error(errback)


def _links_to_steps(sig: Any) -> None:
    """Move a chain's own callbacks to its last step and its errbacks to every step, in place, as Celery sends
    a chain inside a canvas (a chord's body chain, a group member): only called on the sending copy, whose
    step objects then get the task ids the results are read from."""
    callbacks, errbacks = _as_list(sig.options.pop("link", None)), _as_list(sig.options.pop("link_error", None))
    steps = sig.tasks
    for callback in callbacks if steps else ():
        steps[-1].link(callback)
    for errback in errbacks:
        for step in steps:
            step.link_error(errback)


def _result_of(sig: Any, app: Any, parent: Any = None) -> Any:
    """The result a dispatched canvas element has (its ids were assigned by ``_to_native``)."""
    if is_kind(sig, "chain"):
        return _results_of(sig.tasks, app, parent)
    if is_kind(sig, "chord"):
        header = app.GroupResult(str(uuid.uuid4()), [_result_of(m, app) for m in _members(sig)], parent=parent)
        return _result_of(sig.body, app, header)
    if is_kind(sig, "group"):
        return app.GroupResult(str(uuid.uuid4()), [_result_of(m, app) for m in _members(sig)], parent=parent)
    return app.AsyncResult(sig.id, task_name=sig.task, parent=parent)


def _results_of(steps: list[Signature], app: Any, parent: Any = None) -> Any:
    """The last step's AsyncResult, with ``.parent`` links back through the earlier steps."""
    result = parent
    for step in steps:
        result = _result_of(step, app, result)
    return result
