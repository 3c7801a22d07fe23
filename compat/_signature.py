"""Celery's ``Signature``: a task invocation as a dict, the base of every canvas kind (``canvas.py``).

Here, below ``canvas.py``, so the modules that send a canvas (``_canvas_send.py``) and build the builtins'
signatures (``_canvas_map.py``) can make and read signatures without importing the module that imports them.
They test for a chain, group or chord with ``is_kind``, through ``Signature.TYPES`` (the classes by their
``subtask_type``, as ``from_dict`` finds them), which ``canvas.py`` fills when it defines those classes.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from typing import Any

from taskora.workflow import Signature as NativeSignature

from ._stamping import StampingVisitor, stamp_headers, stamp_links, stamps_as_headers
from ._state import get_current_app
from .app import _publish

__all__ = ["RESENT_ID_RUNS_AGAIN", "Signature", "is_kind", "maybe_signature", "signature"]


#: Job field every task a canvas sends carries: a task id sent again once its first run ended runs again, as
#: Celery delivers any message again (a frozen signature used in two canvases); see lua/lib/rerun.lua.
RESENT_ID_RUNS_AGAIN = {"_rerun": "1"}


class Signature(dict):
    """A task invocation as a dict: pass it around, serialize it, compose it with ``|``."""

    TYPES: dict[str, type[Signature]] = {}

    def __init__(self, task: Any = None, args: Any = None, kwargs: Any = None, options: Any = None,
                 type: Any = None, subtask_type: str | None = None, immutable: bool = False, app: Any = None,
                 **ex: Any) -> None:  # fmt: skip
        if isinstance(task, dict):  # Signature(dict) copies
            super().__init__(copy.deepcopy(dict(task)))
            self["args"] = tuple(self.get("args") or ())
            self._app = app
            return
        self._app = app or getattr(task, "_app", None) or getattr(type, "_app", None)
        name = task if isinstance(task, str) or task is None else task.name
        super().__init__(task=name, args=tuple(args or ()), kwargs=dict(kwargs or {}),
                         options={**(options or {}), **ex}, subtask_type=subtask_type, immutable=bool(immutable))

    # -- dict-backed properties -----------------------------------------------------------------
    task = property(lambda self: self.get("task"))
    name = property(lambda self: self.get("task"))
    args = property(lambda self: tuple(self.get("args") or ()),
                    lambda self, value: self.__setitem__("args", tuple(value)))
    kwargs = property(lambda self: self.get("kwargs") or {},
                      lambda self, value: self.__setitem__("kwargs", dict(value)))
    options = property(lambda self: self.setdefault("options", {}),
                       lambda self, value: self.__setitem__("options", dict(value)))
    subtask_type = property(lambda self: self.get("subtask_type"))
    immutable = property(lambda self: bool(self.get("immutable")))
    id = property(lambda self: self.options.get("task_id"))

    @property
    def app(self) -> Any:
        return self._app or get_current_app()

    @property
    def type(self) -> Any:
        return self.app.tasks[self.task]

    def __json__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Signature:
        """Copies the dict (nested signatures too) but shares the app, which holds locks and connections."""
        clone = type(self).__new__(type(self))
        dict.update(clone, {k: copy.deepcopy(v, memo) for k, v in self.items()})
        clone._app = self._app
        return clone

    @classmethod
    def from_dict(cls, d: dict[str, Any], app: Any = None) -> Signature:
        kind = d.get("subtask_type")
        target = cls.TYPES.get(kind, Signature) if kind else Signature
        return target._from(d, app)

    @classmethod
    def _from(cls, d: dict[str, Any], app: Any) -> Signature:
        return cls(dict(d), app=app)

    # -- partial application ----------------------------------------------------------------------
    def _merge(self, args: Any = None, kwargs: Any = None, options: Any = None) -> tuple[tuple, dict, dict]:
        opts = {**self.options, **{k: v for k, v in (options or {}).items() if v is not None}}
        if self.immutable:
            return self.args, dict(self.kwargs), opts
        return tuple(args or ()) + self.args, {**self.kwargs, **(kwargs or {})}, opts

    def clone(self, args: Any = None, kwargs: Any = None, **opts: Any) -> Signature:
        new_args, new_kwargs, new_opts = self._merge(args, kwargs, opts)
        sig = Signature.from_dict({**copy.deepcopy(dict(self)), "args": new_args, "kwargs": new_kwargs,
                                   "options": copy.deepcopy(new_opts)}, app=self._app)
        return sig

    partial = clone

    def replace(self, args: Any = None, kwargs: Any = None, options: Any = None) -> Signature:
        sig = self.clone()
        if args is not None:
            sig["args"] = tuple(args)
        if kwargs is not None:
            sig["kwargs"] = dict(kwargs)
        if options is not None:
            sig["options"] = dict(options)
        return sig

    def set(self, immutable: bool | None = None, **options: Any) -> Signature:
        if immutable is not None:
            self["immutable"] = bool(immutable)
        self.options.update(options)
        return self

    def set_immutable(self, immutable: bool) -> None:
        self["immutable"] = bool(immutable)

    def link(self, callback: Any) -> Any:
        links = self.options.setdefault("link", [])
        if callback not in links:
            links.append(callback)
        return callback

    def link_error(self, errback: Any) -> Any:
        errbacks = self.options.setdefault("link_error", [])
        if errback not in errbacks:
            errbacks.append(errback)
        return errback

    def on_error(self, errback: Any) -> Signature:
        self.link_error(errback)
        return self

    def freeze(self, _id: str | None = None, **_: Any) -> Any:
        """Assign the task id now (if absent) and return the result it will have."""
        self.options.setdefault("task_id", _id or str(uuid.uuid4()))
        return self.app.AsyncResult(self.id, task_name=self.task)

    # -- stamping (see _stamping.py) ------------------------------------------------------------------
    def stamp(self, visitor: StampingVisitor | None = None, append_stamps: bool = False, **headers: Any) -> Signature:
        """Stamp this signature (and its links) with ``headers`` and/or the stamps ``visitor`` decides."""
        self.stamp_links(visitor, append_stamps, **headers)
        extra = (visitor.on_signature(self, **headers) or {}) if visitor is not None else None
        return self.set(**stamp_headers(self, extra, append_stamps, **headers))

    def stamp_links(self, visitor: StampingVisitor | None, append_stamps: bool = False, **headers: Any) -> None:
        stamp_links(self, visitor, append_stamps, **headers)

    def _stamp_headers(self, visitor_headers: Any = None, append_stamps: bool = False, self_headers: bool = True,
                       **headers: Any) -> dict[str, Any]:  # fmt: skip
        return stamp_headers(self, visitor_headers, append_stamps, self_headers, **headers)

    def _stamp_parts(self, visitor: StampingVisitor | None, append_stamps: bool, start: str, end: str,
                     parts: list[Signature], **headers: Any) -> dict[str, Any]:  # fmt: skip
        """Stamp a composite: its own stamps from ``visitor.<start>``, then its links, then each part."""
        extra = (getattr(visitor, start)(self, **headers) or {}) if visitor is not None else None
        headers = stamp_headers(self, extra, append_stamps, **headers)
        self.stamp_links(visitor, append_stamps, **headers)
        for part in parts:
            part.stamp(visitor, append_stamps, **headers)
        if visitor is not None:
            getattr(visitor, end)(self, **headers)
        return headers

    # -- calling ------------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        new_args, new_kwargs, _ = self._merge(args, kwargs)
        return self.type(*new_args, **new_kwargs)

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def apply_async(self, args: Any = None, kwargs: Any = None, route_name: Any = None, **options: Any) -> Any:
        new_args, new_kwargs, opts = self._merge(args, kwargs, options)
        opts = _with_stamp_headers(opts)
        if self.task in self.app.tasks:
            return self.type.apply_async(new_args, new_kwargs, **opts)
        return self.app.send_task(self.task, new_args, new_kwargs, **opts)

    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        new_args, new_kwargs, opts = self._merge(args, kwargs, options)
        return self.type.apply(new_args, new_kwargs, **opts)

    def __invert__(self) -> Any:
        return self.apply_async().get()

    def __or__(self, other: Any) -> Any:
        chain: Any = Signature.TYPES["chain"]  # canvas.py's _chain, whose constructor takes the steps
        if is_kind(other, "chain"):
            return chain(self, *other.tasks, app=self._app)
        if is_kind(other, "group"):
            members = list(other.tasks)
            return chain(self, members[0] if len(members) == 1 else other, app=self._app)
        if isinstance(other, Signature):
            return chain(self, other, app=self._app)
        return NotImplemented

    def __repr__(self) -> str:
        args = ", ".join([*map(repr, self.args), *(f"{k}={v!r}" for k, v in self.kwargs.items())])
        return f"{self.task}({args}){'!' if self.immutable else ''}"

    # -- to the native engine -----------------------------------------------------------------------
    def _native(self, app: Any) -> Any:
        """This signature as a native node: prepend mode, or bound when immutable."""
        name, opts = self.task, _with_stamp_headers(dict(self.options))
        task = app.tasks[name] if name in app.tasks else None
        explicit = {k: v for k, v in opts.items() if v is not None and k not in ("link", "link_error")}
        merged = app.router.route(name, list(self.args), dict(self.kwargs), explicit, task=task,
                                  task_options=_publish._task_defaults(app, task))
        task_id = opts.get("task_id") or str(uuid.uuid4())
        self.options["task_id"] = task_id
        _publish.check_call_options(merged, name)
        delay, ttl, eta_iso, expires_iso = _publish._timing(app, merged)
        ids = {"root_id": merged.get("root_id") or task_id, "parent_id": merged.get("parent_id")}
        meta = _publish._meta(name, task_id, merged, dict(merged.get("headers") or {}), ids, eta_iso,
                              expires_iso, None, opts.get("link"), opts.get("link_error"))
        engine = app._engine_task(task, name, merged["queue"])
        data = {"args": _publish._listify(list(self.args)), "kwargs": dict(self.kwargs)}
        return NativeSignature(engine, data, mode="bound" if self.immutable else "prepend", job_id=task_id,
                               meta={**_publish._execute.meta_fields(meta), **_publish._limit_fields(explicit),
                                     **RESENT_ID_RUNS_AGAIN},
                               delay=delay or None, ttl=ttl,
                               priority=_publish.native_priority(merged.get("priority")))


def signature(varies: Any, *args: Any, **kwargs: Any) -> Signature:
    """A signature from a task name, a task, a dict, or another signature (cloned)."""
    app = kwargs.get("app")
    if isinstance(varies, dict):
        if isinstance(varies, Signature):
            return varies.clone()
        return Signature.from_dict(varies, app=app)
    return Signature(varies, *args, **kwargs)


def maybe_signature(d: Any, app: Any = None, clone: bool = False) -> Any:
    """None stays None; a dict becomes the right Signature subclass."""
    if d is None:
        return None
    if isinstance(d, Signature):
        if app is not None and d._app is None:
            d._app = app
        return d.clone() if clone else d
    if isinstance(d, dict):
        return Signature.from_dict(d, app=app)
    return d


def is_kind(sig: Any, *kinds: str) -> bool:
    """``isinstance`` against the canvas classes of ``kinds`` (``"chain"``, ``"group"``...), looked up in
    ``Signature.TYPES``: the modules below ``canvas.py`` cannot import the classes it defines (a loop)."""
    return isinstance(sig, tuple(Signature.TYPES[kind] for kind in kinds))


def _with_stamp_headers(options: dict[str, Any]) -> dict[str, Any]:
    """Send options with the stamps moved into the message headers (where the worker's request reads them)."""
    stamped = stamps_as_headers(options)
    if not stamped:
        return options
    rest = {k: v for k, v in options.items() if k not in stamped}
    rest["headers"] = {**(options.get("headers") or {}), **stamped}
    return rest


def _as_list(value: Any) -> list[Any]:
    if not value:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _flatten_arg(values: tuple[Any, ...]) -> list[Any]:
    if len(values) == 1 and not isinstance(values[0], dict) and isinstance(values[0], Iterable):
        return list(values[0])
    return list(values)
