"""The canvas as the modules below it see it: a ``Task`` builds signatures (``s``, ``map``, ``chunks``), replaces
itself and adds to its chord, the worker turns stored links into signatures, and stamping turns a link into one.

The canvas (``canvas.py``, ``_replace.py``, ``_canvas_worker.py``) sits above the task and publish modules: a
signature sends through its task's app (``app/_publish.py``) and threads ids from the running task
(``app/_execute.py``). Those lower modules reach the canvas through this module instead of importing it, so
the import graph has no loop (``tests/package/test_import_contract.py``); ``_canvas_setup.py``, imported by the
``taskora.compat`` package, installs the real functions once, before any task can run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .exceptions import ImproperlyConfigured

__all__ = ["CanvasApi", "canvas", "install"]


@dataclass(frozen=True)
class CanvasApi:
    """The canvas operations the task, execute and stamping modules call (each is the canvas's own function)."""

    signature: Callable[..., Any]
    maybe_signature: Callable[..., Any]
    xmap: Callable[..., Any]
    xstarmap: Callable[..., Any]
    chunks: Callable[..., Any]
    replace: Callable[[Any, Any], Any]
    add_to_chord: Callable[[Any, Any, bool], Any]


_installed: list[CanvasApi] = []


def install(api: CanvasApi) -> None:
    """Make ``api`` the canvas every lower module calls (``_canvas_setup.py``; a second install replaces it)."""
    _installed[:] = [api]


def canvas() -> CanvasApi:
    """The installed canvas; a clear error when the ``taskora.compat`` package was bypassed and none is."""
    if not _installed:
        raise ImproperlyConfigured("the Celery canvas is not installed: import taskora.compat (which installs it "
                                   "from taskora.compat._canvas_setup) before building signatures")
    return _installed[0]
