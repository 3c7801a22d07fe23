"""``xmap`` and ``xstarmap``, the signatures ``task.map`` and ``task.starmap`` give.

Apart from ``canvas.py`` because they need only ``Signature``; ``chunks``, which sends a group of ``xstarmap``
tasks, is in ``canvas.py`` with ``group``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._signature import Signature, maybe_signature

__all__ = ["xmap", "xstarmap"]


# -- the Celery builtins' signatures (``task.map/starmap/chunks``) -------------------------------------
# ``xmap``/``xstarmap`` are ONE ``celery.map``/``celery.starmap`` task calling the task per item (the builtins are
# in ``_canvas_worker``); ``chunks`` sends a group of ``xstarmap`` tasks, one workflow node per chunk. All three
# are immutable: call-time args are ignored, as in Celery.
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


def _short(items: list[Any]) -> str:
    return repr(items) if len(items) <= 3 else f"[{', '.join(map(repr, items[:3]))}, ...]"
