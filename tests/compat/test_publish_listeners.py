"""One answer to "does anyone listen to this task's publish signals", for the single-call and the canvas paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from taskora.compat._publish_listeners import publish_listened
from taskora.compat.signals import after_task_publish, before_task_publish

from tests.paths import ROOT


def _receiver(**_: Any) -> None:
    """A receiver that ignores what it hears."""


@pytest.fixture
def on_before_for_add() -> Iterator[None]:
    before_task_publish.connect(_receiver, sender="proj.add", weak=False)
    try:
        yield
    finally:
        before_task_publish.disconnect(_receiver, sender="proj.add")


@pytest.fixture
def on_after_for_all() -> Iterator[None]:
    after_task_publish.connect(_receiver, weak=False)
    try:
        yield
    finally:
        after_task_publish.disconnect(_receiver)


def test_nobody_listens_without_a_receiver() -> None:
    assert not publish_listened("proj.add")
    assert not publish_listened()


def test_a_receiver_for_one_task_hears_that_name_only(on_before_for_add: None) -> None:
    assert publish_listened("proj.add")
    assert publish_listened("proj.mul", "proj.add")  # a canvas asks once for all its first tasks
    assert not publish_listened("proj.mul")


def test_a_receiver_without_a_sender_hears_every_name(on_after_for_all: None) -> None:
    assert publish_listened("proj.mul")


def _asks_for_listeners_of_publish(path: Path) -> bool:
    """A module that calls ``has_listeners`` and names a publish signal: it asks the publish signals itself."""
    text = path.read_text(encoding="utf-8")
    return "has_listeners(" in text and ("before_task_publish" in text or "after_task_publish" in text)


def test_only_the_helper_asks_the_publish_signals_for_listeners() -> None:
    found = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "compat").rglob("*.py"))
             if _asks_for_listeners_of_publish(path)]
    assert found == ["compat/_publish_listeners.py", "compat/signals.py"]  # signals.py defines has_listeners
