"""A producer performs the wire handshake once before its first write and refuses a store of an
incompatible wire version before writing anything (recordings 01-handshake, 23-version-mismatch)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from taskora import SchemaVersionMismatchError, Taskora, chain

#: Stored meta a wire-6 process must refuse, and the reason it gives.
INCOMPATIBLE = {
    "newer (TypeScript's v7 recording)": ({"wireVersion": "7", "minCompat": "7", "writtenBy": "taskora-wire-7"},
                                          "theirs_too_new"),
    "older": ({"wireVersion": "5", "minCompat": "5", "writtenBy": "taskora-wire-5"}, "theirs_too_old"),
    "garbage": ({"wireVersion": "banana", "writtenBy": "?"}, "invalid_meta"),
}


def _keys(app: Taskora) -> set[str]:
    return {k.decode() for k in app.adapter.client.keys("*")}


def _producer_writes(app: Taskora) -> dict[str, Callable[[], object]]:
    add = app.task("add", lambda d: d["x"] + d["y"])
    double = app.task("double", lambda n: n * 2)
    return {
        "dispatch": lambda: add.dispatch({"x": 1, "y": 2}),
        "dispatch_many": lambda: add.dispatch_many([{"x": 1, "y": 2}]),
        "workflow": lambda: chain(add.s({"x": 1, "y": 2}), double.s()).dispatch(),
        "dead-letter retry": lambda: app.dead_letters.retry("some-id", task="add"),
    }


@pytest.mark.parametrize("stored", INCOMPATIBLE.values(), ids=list(INCOMPATIBLE))
def test_every_producer_write_is_refused_on_an_incompatible_store(app: Taskora, stored) -> None:
    meta, code = stored
    app.adapter.client.hset(app.adapter.keys.meta, mapping=meta)

    for name, write in _producer_writes(app).items():
        with pytest.raises(SchemaVersionMismatchError, match=code):
            write()
        assert _keys(app) == {app.adapter.keys.meta}, f"{name} wrote before the handshake refused it"


def test_a_meta_key_that_is_not_a_hash_is_refused_as_invalid(app: Taskora) -> None:
    app.adapter.client.set(app.adapter.keys.meta, "not a hash")
    add = app.task("add", lambda d: d)

    with pytest.raises(SchemaVersionMismatchError, match="invalid_meta"):
        add.dispatch({"x": 1})
    assert _keys(app) == {app.adapter.keys.meta}


def test_the_first_dispatch_writes_the_meta_typescript_writes_and_only_once(app: Taskora) -> None:
    add = app.task("add", lambda d: d)

    add.dispatch({"x": 1})
    meta = {k.decode(): v.decode() for k, v in app.adapter.client.hgetall(app.adapter.keys.meta).items()}
    assert list(meta) == ["wireVersion", "minCompat", "writtenBy", "writtenAt"]
    assert (meta["wireVersion"], meta["minCompat"], meta["writtenBy"]) == ("6", "6", "taskora-wire-6")

    app.adapter.client.delete(app.adapter.keys.meta)
    add.dispatch({"x": 2})
    assert not app.adapter.client.exists(app.adapter.keys.meta), "the handshake ran again on the same adapter"
