"""Celery's ``xmap``/``xstarmap``/``chunks`` signatures (``task.map/starmap/chunks``).

``xmap``/``xstarmap`` are ONE ``celery.map``/``celery.starmap`` task calling the task per item (the
builtins are in ``_canvas_worker``); ``chunks`` sends a group of ``xstarmap`` tasks, one workflow
node per chunk. All three are immutable: call-time args are ignored, as in Celery.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .canvas import Signature, group, maybe_signature

__all__ = ["xmap", "xstarmap", "chunks"]


class xmap(Signature):  # noqa: N801 - Celery's name
    """``task.map(it)``: ONE ``celery.map`` task calling ``task(item)`` for each item; its result is the list."""

    builtin, kind = "celery.map", "xmap"

    def __init__(self, task: Any, it: Any, app: Any = None, **options: Any) -> None:
        task = maybe_signature(task, app=app)
        app = app or getattr(task, "_app", None)
        if isinstance(it, (str, bytes)) or not isinstance(it, Iterable):
            raise TypeError(f"{self.builtin}: the items must be an iterable (list, tuple, generator), got {it!r}")
        super().__init__(self.builtin, (), {"task": task, "it": list(it)}, options, subtask_type=self.kind,
                         immutable=True, app=app)

    @classmethod
    def _from(cls, d: dict[str, Any], app: Any) -> Signature:
        kw = d["kwargs"]
        return cls(maybe_signature(kw["task"], app=app), kw["it"], app=app, **d.get("options", {}))

    def __repr__(self) -> str:
        task, it = self.kwargs["task"], self.kwargs["it"]
        return f"[{task.task}(x) for x in {_short(it)}]"


class xstarmap(xmap):  # noqa: N801 - Celery's name
    """``task.starmap(it)``: ONE ``celery.starmap`` task calling ``task(*args)`` for each args tuple."""

    builtin, kind = "celery.starmap", "xstarmap"

    def __repr__(self) -> str:
        task, it = self.kwargs["task"], self.kwargs["it"]
        return f"[{task.task}(*x) for x in {_short(it)}]"


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


def _short(items: list[Any]) -> str:
    return repr(items) if len(items) <= 3 else f"[{', '.join(map(repr, items[:3]))}, ...]"
