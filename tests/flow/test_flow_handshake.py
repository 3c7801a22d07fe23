"""Flow-controlled and collect dispatches are producer writes too: the first one performs the wire handshake
(the meta TypeScript writes), and on a store of an incompatible wire version each is refused before it
writes anything, as a plain dispatch is (tests/interop/test_producer_handshake.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from taskora import SchemaVersionMismatchError, Taskora
from tests.interop.test_producer_handshake import INCOMPATIBLE


def _flow_writes(app: Taskora) -> dict[str, Callable[[], object]]:
    report = app.task("report", lambda n: n)
    batch = app.task("batch", lambda items: len(items), collect={"key": "all", "delay": "1h"})
    return {
        "deduplicate": lambda: report.dispatch(1, deduplicate={"key": "k"}),
        "throttle": lambda: report.dispatch(1, throttle={"key": "k", "max": 5, "window": "1m"}),
        "debounce": lambda: report.dispatch(1, debounce={"key": "k", "delay": "1m"}),
        "dispatch_many with deduplicate": lambda: report.dispatch_many([(1, {"deduplicate": {"key": "k"}})]),
        "collect": lambda: batch.dispatch(1),
    }


def _keys(app: Taskora) -> set[str]:
    return {k.decode() if isinstance(k, bytes) else k for k in app.adapter.raw_client().keys("*")}


def _meta(app: Taskora) -> dict[str, Any]:
    raw = app.adapter.raw_client().hgetall(app.adapter.keys.meta)
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()}


@pytest.mark.parametrize("write", ["deduplicate", "throttle", "debounce", "dispatch_many with deduplicate", "collect"])
def test_a_first_flow_controlled_write_performs_the_handshake(make_app: Callable[..., Taskora], write: str) -> None:
    app = make_app()

    _flow_writes(app)[write]()

    assert _meta(app)["wireVersion"] == "6"


@pytest.mark.parametrize("stored", INCOMPATIBLE.values(), ids=list(INCOMPATIBLE))
def test_every_flow_controlled_write_is_refused_on_an_incompatible_store(app: Taskora, stored: Any) -> None:
    meta, code = stored
    app.adapter.raw_client().hset(app.adapter.keys.meta, mapping=meta)

    for name, write in _flow_writes(app).items():
        with pytest.raises(SchemaVersionMismatchError, match=code):
            write()
        assert _keys(app) == {app.adapter.keys.meta}, f"{name} wrote before the handshake refused it"
