"""The task and execute modules reach the canvas above them through ``_canvas_api`` (no import loop): what the
``taskora.compat`` package installs is the canvas's own functions, and a missing canvas is a clear error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from taskora.compat import _canvas_api, _canvas_worker, _replace, canvas
from taskora.compat.exceptions import ImproperlyConfigured

from .canvas_proj import add


@pytest.fixture
def no_canvas() -> Iterator[None]:
    """Nothing installed for the test's duration (as when the package's __init__ was bypassed)."""
    installed = _canvas_api.canvas()
    _canvas_api._installed.clear()
    try:
        yield
    finally:
        _canvas_api.install(installed)


def test_the_package_installs_the_canvas_functions() -> None:
    api = _canvas_api.canvas()
    assert (api.signature, api.maybe_signature, api.chunks) == (canvas.signature, canvas.maybe_signature,
                                                                canvas.chunks)
    assert (api.xmap, api.xstarmap) == (canvas.xmap, canvas.xstarmap)
    assert (api.replace, api.add_to_chord) == (_replace.replace, _canvas_worker.add_to_chord)


def test_a_task_builds_canvas_types_through_the_installed_canvas() -> None:
    assert type(add.s(1, 2)) is canvas.Signature and add.s(1, 2).args == (1, 2)
    assert type(add.map([1])) is canvas.xmap and type(add.starmap([(1, 2)])) is canvas.xstarmap
    assert type(add.chunks([(1, 2)], 1)) is canvas.chunks


def test_without_the_canvas_a_signature_is_a_clear_error(no_canvas: None) -> None:
    with pytest.raises(ImproperlyConfigured, match="canvas is not installed: import taskora.compat"):
        add.s(1, 2)
