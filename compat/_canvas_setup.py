"""Connects the canvas to the modules below it, once, when the ``taskora.compat`` package is imported.

``canvas.py`` and its worker half (``_canvas_worker.py``, ``_replace.py``) import the task and publish modules;
those reach the canvas back through ``_canvas_api.py``, which this module fills. It also registers the canvas
builtins (``celery.map``, ``celery.chord_unlock``, ...) for every app that finalizes and gives ``GroupResult``
its ``save``/``restore``/``delete``. Everything here would close an import loop if ``canvas.py`` did it itself.
"""

from __future__ import annotations

from . import _canvas_api, _canvas_worker, _replace, _state, canvas

__all__ = ["connect"]


def connect() -> None:
    """Install the canvas functions, register the builtins for every app and add the group persistence (once)."""
    _canvas_api.install(_canvas_api.CanvasApi(
        signature=canvas.signature, maybe_signature=canvas.maybe_signature, xmap=canvas.xmap,
        xstarmap=canvas.xstarmap, chunks=canvas.chunks, replace=_replace.replace,
        add_to_chord=_canvas_worker.add_to_chord))
    _state.connect_on_app_finalize(_canvas_worker.register_builtins)
    _canvas_worker.install_group_persistence()


connect()
