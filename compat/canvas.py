"""Celery's canvas (``celery.canvas``) on taskora's native workflow engine.

A Celery signature is a dict (``task``, ``args``, ``kwargs``, ``options``, ``subtask_type``,
``immutable``) that round-trips through JSON. Sending a composition flattens it into one native
workflow: a mutable signature becomes a node in ``prepend`` mode (the upstream result is put first in
its args, Celery's partial application), an immutable one (``.si``) a ``bound`` node; the DAG lives in
Redis and is advanced by the engine's Lua script, with ``cascade="fail"`` so a failing step fails the
remaining steps with the same error (a chord body with ``ChordError``), as Celery does.

This module is a little past 400 lines because ``chain``, ``group``, ``chord`` and ``chunks`` build each other
(``|`` upgrades a group followed by a step to a chord, ``chain(...)`` may return one, ``chunks`` sends a group).
What they build on is in modules below it, which never import it: ``Signature`` and ``signature`` in
``_signature.py`` (its ``is_kind`` tests for the classes defined here through ``Signature.TYPES``), ``xmap`` and
``xstarmap`` in ``_canvas_map.py``, the conversion to native nodes and the sending helpers in ``_canvas_send.py``;
the worker-side parts (builtins, chord errbacks, saved groups) are in ``_canvas_worker.py``. Every name this
module exported is still importable from it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from taskora.workflow import Chain as NativeChain
from taskora.workflow import Chord as NativeChord
from taskora.workflow import Group as NativeGroup
from taskora.workflow.dispatch import dispatch_workflow

from . import _canvas_ids, _canvas_publish
from ._canvas_map import xmap, xstarmap
from ._canvas_send import PASSES_FAILURE_ON as PASSES_FAILURE_ON
from ._canvas_send import (
    _always_eager,
    _apply_lazy_chord,
    _delay_entries,
    _eagerly,
    _give_result_id,
    _header_member_native,
    _header_members,
    _is_empty,
    _is_plain,
    _link_error_to_body,
    _members,
    _prepend_in_place,
    _result_of,
    _result_task,
    _results_of,
    _to_native,
    _unroll_group,
)
from ._signature import RESENT_ID_RUNS_AGAIN as RESENT_ID_RUNS_AGAIN
from ._signature import Signature, _as_list, _flatten_arg, maybe_signature, signature
from ._stamping import StampingVisitor, stamp_headers
from ._state import get_current_app
from .result import GroupResult

__all__ = ["StampingVisitor", "Signature", "signature", "maybe_signature", "chain", "group", "chord", "subtask",
           "chunks", "xmap", "xstarmap"]


class _chain(Signature):
    """``chain(a, b, c)`` / ``a | b | c``: each step gets the previous result prepended."""

    def __init__(self, *tasks: Any, app: Any = None, **options: Any) -> None:
        steps: list[Signature] = []
        for t in _flatten_arg(tasks):
            t = maybe_signature(t, app=app)
            steps.extend(t.unchain_tasks() if isinstance(t, _chain) else [t])
        super().__init__("celery.chain", (), {"tasks": steps}, options, subtask_type="chain", app=app)

    @classmethod
    def _from(cls, d: dict[str, Any], app: Any) -> Signature:
        return cls(*[maybe_signature(t, app=app) for t in d["kwargs"]["tasks"]], app=app, **d.get("options", {}))

    tasks = property(lambda self: list(self["kwargs"]["tasks"]))

    def clone(self, args: Any = None, kwargs: Any = None, **opts: Any) -> Signature:
        """Celery's chain clones its steps too, so the task ids a sent copy gets never leak into this chain
        (sent again, or inside another canvas, it gets new ones)."""
        sig = super().clone(args, kwargs, **opts)
        sig["kwargs"]["tasks"] = [step.clone() for step in sig["kwargs"]["tasks"]]
        return sig

    @property
    def app(self) -> Any:
        return self._app or (self.tasks[0].app if self.tasks else get_current_app())

    def unchain_tasks(self) -> list[Signature]:
        """The steps with this chain's own links kept, as Celery flattens a chain into another: its
        callbacks on the last step, its errbacks on every step (cloned only when there are links)."""
        callbacks, errbacks = _as_list(self.options.get("link")), _as_list(self.options.get("link_error"))
        if not (callbacks or errbacks) or not self.tasks:
            return self.tasks
        steps = [step.clone() for step in self.tasks]
        for callback in callbacks:
            steps[-1].link(callback)
        for errback in errbacks:
            for step in steps:
                step.link_error(errback)
        return steps

    def __or__(self, other: Any) -> Any:
        steps = self.unchain_tasks()
        if isinstance(other, _chain):
            return _chain(*steps, *other.unchain_tasks(), app=self._app)
        if isinstance(other, Signature):
            return _chain(*steps, other, app=self._app)
        return NotImplemented

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    # No route_name here, as in Celery (its chain, group and chord signatures differ from Signature's too).
    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:  # type: ignore[override]
        if _always_eager(self.app):
            return _eagerly(self, args, kwargs)
        steps = _canvas_ids.unalias([_unroll_group(s.clone()) for s in self.tasks if not _is_empty(s)])
        if not steps:
            return None
        if isinstance(steps[0], chord) and args and not kwargs:  # a chord's call-time args go to its header
            _prepend_in_place(steps[0], tuple(args))
        elif args or kwargs:
            steps[0] = steps[0].clone(args, kwargs)
        opts = {**self.options, **{k: v for k, v in options.items() if v is not None}}
        for errback in _as_list(opts.get("link_error")):  # a chain's errback is attached to every step
            for step in steps:
                step.link_error(errback)
        for callback in _as_list(opts.get("link")):  # and its callback to the last one
            steps[-1].link(callback)
        app = self.app
        _canvas_ids.thread_ids(steps)
        with _canvas_publish.announcing(steps[0], app, _members):
            dispatch_workflow(NativeChain(*[_to_native(s, app) for s in steps]), cascade="fail")
        return _results_of(steps, app)

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        last: Any = None
        for i, step in enumerate(self.tasks):
            last = step.apply(args, kwargs) if i == 0 else step.apply((last.get(),))
        return last

    def __repr__(self) -> str:
        return " | ".join(repr(t) for t in self.tasks)

    def stamp(self, visitor: StampingVisitor | None = None, append_stamps: bool = False, **headers: Any) -> Signature:
        self._stamp_parts(visitor, append_stamps, "on_chain_start", "on_chain_end", self.tasks, **headers)
        return self


class group(Signature):  # noqa: N801 - Celery's name
    """``group(a, b, ...)``: members in parallel; ``GroupResult`` ordered as given."""

    def __init__(self, *tasks: Any, app: Any = None, **options: Any) -> None:
        members = [maybe_signature(t, app=app) for t in _flatten_arg(tasks)]
        super().__init__("celery.group", (), {"tasks": members}, options, subtask_type="group", app=app)

    @classmethod
    def _from(cls, d: dict[str, Any], app: Any) -> Signature:
        return cls([maybe_signature(t, app=app) for t in d["kwargs"]["tasks"]], app=app, **d.get("options", {}))

    tasks = property(lambda self: list(self["kwargs"]["tasks"]))

    @property
    def app(self) -> Any:
        return self._app or (self.tasks[0].app if self.tasks else get_current_app())

    def __or__(self, other: Any) -> Any:
        if isinstance(other, group) and not other.tasks:
            return self
        if isinstance(other, Signature):
            return chord(self, body=other, app=self._app)
        return NotImplemented

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def link(self, sig: Any) -> Any:
        """Celery attaches a group's callback (made immutable) to its first member only; prefer a chord."""
        if self.tasks:
            self.tasks[0].link(maybe_signature(sig, app=self._app).clone().set(immutable=True))
        return sig

    def link_error(self, sig: Any) -> Any:
        """Any member may fail, so every member gets a clone of the errback."""
        for task in self.tasks:
            task.link_error(maybe_signature(sig, app=self._app).clone())
        return sig

    def stamp(self, visitor: StampingVisitor | None = None, append_stamps: bool = False, **headers: Any) -> Signature:
        self._stamp_parts(visitor, append_stamps, "on_group_start", "on_group_end", self.tasks, **headers)
        return self

    def skew(self, start: float = 1.0, stop: float | None = None, step: float = 1.0) -> group:
        """Stagger the members: countdowns ``start``, ``start + step``... (the last repeats past ``stop``)."""
        value = float(start)
        for task in self.tasks:
            task.set(countdown=value)
            if stop is None or value + step <= stop:
                value += step
        return self

    # No route_name here, as in Celery (its chain, group and chord signatures differ from Signature's too).
    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:  # type: ignore[override]
        if options.get("link") is not None:
            raise TypeError("Cannot add link to group: use a chord")
        if options.get("link_error") is not None:
            raise TypeError("Cannot add link_error to group: do that on individual tasks or use .link_error()")
        app = self.app
        if _always_eager(app):
            return _eagerly(self, args, kwargs)
        members = _canvas_ids.unalias([m.clone(args, kwargs) for m in _members(self)])
        if not members:
            return app.GroupResult(str(uuid.uuid4()), [])
        _delay_entries(members, {**self.options, **options})
        _dispatch_members(members, app)
        results = [_result_of(m, app) for m in members]
        if len(results) == 1 and isinstance(results[0], GroupResult):
            return results[0]  # group(a | group(b, c)): Celery hands back the inner group's result
        return app.GroupResult(self.options.get("task_id") or str(uuid.uuid4()), results)

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        return self.app.GroupResult(str(uuid.uuid4()), [m.apply(args, kwargs) for m in self.tasks])


class chord(Signature):  # noqa: N801 - Celery's name
    """``chord(header)(body)`` / ``chord(header, body)``: the body gets the list of header results."""

    def __init__(self, header: Any, body: Any = None, app: Any = None, **options: Any) -> None:
        lazy = header if isinstance(header, Iterator) else None  # a generator: sent as it yields
        members = [] if lazy is not None else _header_members(header, app)
        super().__init__("celery.chord", (), {"header": members, "body": maybe_signature(body, app=app)},
                         options, subtask_type="chord", app=app)
        self._lazy_header = lazy

    @classmethod
    def _from(cls, d: dict[str, Any], app: Any) -> Signature:
        kw = d["kwargs"]
        return cls([maybe_signature(t, app=app) for t in kw["header"]], maybe_signature(kw.get("body"), app=app),
                   app=app, **d.get("options", {}))

    tasks = property(lambda self: list(self["kwargs"]["header"]))
    body = property(lambda self: self["kwargs"]["body"])

    @property
    def app(self) -> Any:
        return self._app or (self.tasks[0].app if self.tasks else self.body.app)

    def __or__(self, other: Any) -> Any:
        if isinstance(other, Signature):
            return chord(self.tasks, self.body | other, app=self._app)
        return NotImplemented

    def freeze(self, _id: str | None = None, **_: Any) -> Any:
        """The chord's result is its body's (a body chain's last task's), as Celery's ``chord.freeze``: ``_id`` (or
        the chord's ``task_id``) becomes that task's id, and the chord's own ``task_id`` follows it."""
        target = _result_task(self.body)
        if target is None:
            return super().freeze(_id)
        _give_result_id(self.body, _id or self.options.get("task_id"))
        result = target.freeze()
        self.options["task_id"] = target.id
        return result

    def link(self, callback: Any) -> Any:
        """A chord's callback follows its body."""
        self.body.link(callback)
        return callback

    def link_error(self, errback: Any) -> Any:
        """A chord's errback goes on its body (it fires with a ChordError when a header member fails), on a chord
        in its header (which links it through its own header and body) and, with
        ``task_allow_error_cb_on_chord_header``, on each header task as well (an immutable clone), as Celery
        5.7's ``chord.link_error`` does."""
        errback = maybe_signature(errback, app=self._app)
        if self.app.conf.task_allow_error_cb_on_chord_header:
            for task in self.tasks:
                task.link_error(errback.clone(immutable=True))
        for task in self.tasks:
            if isinstance(task, chord):
                task.link_error(errback)
        self.body.link_error(errback)
        return errback

    def stamp(self, visitor: StampingVisitor | None = None, append_stamps: bool = False, **headers: Any) -> Signature:
        """Stamp the header (as a group), then the body with the chord's stamps and ``on_chord_body``'s."""
        headers = self._stamp_parts(visitor, append_stamps, "on_chord_header_start", "on_chord_header_end",
                                    self.tasks, **headers)
        body = self.body
        if body is not None:
            extra = (visitor.on_chord_body(self, **headers) or {}) if visitor is not None else None
            body.stamp(visitor, append_stamps, **stamp_headers(self, extra, append_stamps, **headers))
        return self

    def __call__(self, body: Any = None, **options: Any) -> Any:
        if body is not None:
            header = self._lazy_header if getattr(self, "_lazy_header", None) is not None else self.tasks
            return chord(header, body, app=self._app, **self.options).apply_async(**options)
        return self.apply_async(**options)

    # No route_name here, as in Celery (its chain, group and chord signatures differ from Signature's too).
    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:  # type: ignore[override]
        app, body = self.app, self.body
        if body is None:
            raise TypeError("chord needs a body: chord(header)(body) or chord(header, body)")
        if _always_eager(app):
            return _eagerly(self, args, kwargs)
        body = body.clone()
        opts = {**self.options, **{k: v for k, v in options.items() if v is not None}}
        _give_result_id(body, opts.get("task_id"))
        for callback in _as_list(opts.get("link")):
            body.link(callback)
        for errback in _as_list(opts.get("link_error")):
            _link_error_to_body(body, errback)
        lazy_header = getattr(self, "_lazy_header", None)
        if lazy_header is not None:
            return _apply_lazy_chord(lazy_header, body, args, kwargs, app)
        header = _canvas_ids.unalias([m.clone(args, kwargs) for m in _members(self)])
        _delay_entries(header, opts)
        _canvas_ids.thread_ids([group(header, app=app), body])
        native_header = NativeGroup(*[_header_member_native(m, app) for m in header])
        body_steps = [_unroll_group(s) for s in body.unchain_tasks() if not _is_empty(s)] \
            if isinstance(body, _chain) else [body]
        native_body = NativeChain(*[_to_native(s, app) for s in body_steps])
        with _canvas_publish.announcing(group(header, app=app), app, _members):
            dispatch_workflow(NativeChord(native_header, native_body), cascade="fail")
        parent = app.GroupResult(str(uuid.uuid4()), [_result_of(m, app) for m in header])
        return _results_of(body_steps, app, parent)

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        header = getattr(self, "_lazy_header", None) or self.tasks
        results = [maybe_signature(m, app=self._app).apply(args, kwargs).get() for m in header]
        return self.body.apply((results,))


def _dispatch_members(members: list[Signature], app: Any) -> None:
    """Send a group's members. Plain task members go as one workflow: with the ``fail`` cascade a failing
    member ends only what depends on it, so its siblings run on, and 10,000 members cost a few round trips
    instead of two each. A member that is itself a canvas goes as its own workflow, as before."""
    if len(members) > 1 and all(_is_plain(m) for m in members):
        with _canvas_publish.announcing(group(members, app=app), app, _members):
            dispatch_workflow(NativeGroup(*[_to_native(m, app) for m in members]), cascade="fail")
        return
    for member in members:  # each its own workflow: a failing member does not stop its siblings
        with _canvas_publish.announcing(member, app, _members):
            dispatch_workflow(_to_native(member, app), cascade="fail")


class _AnyChain(type):
    """``isinstance(sig, chain)`` is true for every chain, however it was built (``|``, ``from_dict``)."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, _chain)


class chain(_chain, metaclass=_AnyChain):  # noqa: N801 - Celery's name
    """``chain(a, b)``; a chain starting with a group followed by steps is a chord (§15.2).

    A class, as in Celery (``isinstance(x, chain)`` is valid), whose constructor returns the built
    ``_chain`` (or ``chord``), so what it makes is exactly what ``a | b`` makes.
    """

    def __new__(cls, *tasks: Any, **options: Any) -> Any:
        built = _chain(*[_unroll_group(s) for s in _flatten_arg(tasks) if not _is_empty(s)], **options)
        first = built.tasks[0] if built.tasks else None
        if isinstance(first, group) and len(built.tasks) > 1:
            rest = built.tasks[1:]
            return chord(first, rest[0] if len(rest) == 1 else _chain(*rest), app=options.get("app"))
        return built


subtask = signature


# -- ``task.chunks``: a group of ``xstarmap`` tasks (``xmap``/``xstarmap`` are in ``_canvas_map.py``) ----------
class chunks(Signature):  # noqa: N801 - Celery's name
    """``task.chunks(it, n)``: the argument tuples split into chunks of ``n``, one ``xstarmap`` task each.

    Sending it runs a group of chunk tasks (one workflow node per chunk) whose ``get()`` is a list of
    lists; ``.group()`` gives that group (e.g. to ``.skew()`` it).
    """

    def __init__(self, task: Any, it: Any, n: int, app: Any = None, **options: Any) -> None:
        task = maybe_signature(task, app=app)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"chunks: the chunk size n must be a positive integer, got {n!r}")
        if isinstance(it, (str, bytes)) or not isinstance(it, Iterable):
            raise TypeError(f"chunks: the items must be an iterable of argument tuples, got {it!r}")
        super().__init__("celery.chunks", (), {"task": task, "it": list(it), "n": n}, options,
                         subtask_type="chunks", immutable=True, app=app or getattr(task, "_app", None))

    @classmethod
    def _from(cls, d: dict[str, Any], app: Any) -> Signature:
        kw = d["kwargs"]
        return cls(maybe_signature(kw["task"], app=app), kw["it"], kw["n"], app=app, **d.get("options", {}))

    def group(self) -> group:
        task, it, n = self.kwargs["task"], self.kwargs["it"], self.kwargs["n"]
        return group([xstarmap(task, it[i : i + n], app=self._app) for i in range(0, len(it), n)], app=self._app)

    def __call__(self, **options: Any) -> Any:
        return self.apply_async(**options)

    # No route_name here, as in Celery (its chain, group and chord signatures differ from Signature's too).
    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:  # type: ignore[override]
        return self.group().apply_async(**options)  # immutable: call-time args are ignored

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        return self.group().apply(**options)

    @classmethod
    def apply_chunks(cls, task: Any, it: Any, n: int, app: Any = None) -> Any:
        return cls(task, it, n, app=app)()


Signature.TYPES.update({"chain": _chain, "group": group, "chord": chord, "xmap": xmap, "xstarmap": xstarmap,
                        "chunks": chunks})
