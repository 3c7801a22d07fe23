"""``task_annotations``: settings that override task attributes, read the way Celery reads them.

The setting is a dict (``{"tasks.add": {"rate_limit": "10/s"}}``, ``"*"`` for every task), an object with
``annotate(task)`` (and optionally ``annotate_any()``) returning such a dict, an import path of either, or a
list of those. For a task, the first entry whose ``annotate`` answers applies, then the first ``"*"`` /
``annotate_any`` answer over it (Celery sets both, in that order, so ``"*"`` wins for the same attribute).
Today the engine reads ``rate_limit`` from annotations (see ``_engine.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import ImproperlyConfigured
from .config import load_object

__all__ = ["annotated"]


def _expand(entry: Any, where: str) -> Any:
    if isinstance(entry, str):
        try:
            entry = load_object(entry)
        except (ImportError, AttributeError) as exc:
            raise ImproperlyConfigured(f"{where}: cannot import {entry!r}: {exc}") from exc
        return entry() if isinstance(entry, type) else entry
    return entry


def _first(entries: list[Any], answer: Any) -> dict[str, Any] | None:
    for entry in entries:
        found = answer(entry)
        if found:
            return dict(found)
    return None


def _specific(task: Any) -> Any:
    def answer(entry: Any) -> Any:
        if isinstance(entry, Mapping):
            return entry.get(task.name)
        method = getattr(entry, "annotate", None)
        return method(task) if callable(method) else None

    return answer


def _any(entry: Any) -> Any:
    if isinstance(entry, Mapping):
        return entry.get("*")
    method = getattr(entry, "annotate_any", None)
    return method() if callable(method) else None


def annotated(setting: Any, task: Any, attr: str) -> tuple[bool, Any]:
    """``(True, value)`` when ``task_annotations`` sets ``attr`` for ``task``, else ``(False, None)``.

    Raises:
        ImproperlyConfigured: an import path that cannot be imported (naming it).
    """
    if not setting:
        return False, None
    entries = list(setting) if isinstance(setting, (list, tuple)) else [setting]
    entries = [_expand(entry, f"task_annotations[{index}]") for index, entry in enumerate(entries)]
    found, value = False, None
    for layer in (_first(entries, _specific(task)), _first(entries, _any)):
        if layer is not None and attr in layer:
            found, value = True, layer[attr]
    return found, value
