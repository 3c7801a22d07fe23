"""The wire format is pinned: every key builder, every engine script's SHA-256, and the version
constants. A failure here means the layout TypeScript taskora (and older Python workers) share
with us changed: bump WIRE_VERSION (and MIN_COMPAT if old readers would misread), then refresh
the snapshot with ``python -m tests.adapters.test_wire_format --update``."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import taskora.lua as engine

from taskora.adapters.keys import MIN_COMPAT, WIRE_VERSION, Keys

SNAPSHOT = Path(__file__).with_name("wire_snapshot.json")


def current() -> dict:
    plain, prefixed = Keys(), Keys("app1")
    return {
        "wireVersion": WIRE_VERSION,
        "minCompat": MIN_COMPAT,
        "keys": {
            "meta": plain.meta,
            "migration_lock": plain.migration_lock,
            "schedules": plain.schedules,
            "schedules_next": plain.schedules_next,
            "schedules_lock": plain.schedules_lock,
            "workflow": plain.workflow("wf1"),
            "queue": plain.queue("send-email"),
            "job": plain.job("send-email", "j1"),
            "lock": plain.lock("send-email", "j1"),
            "logs": plain.logs("send-email", "j1"),
            "cancel_channel": plain.cancel_channel("send-email"),
            "prefixed_job": prefixed.job("send-email", "j1"),
            "prefixed_meta": prefixed.meta,
        },
        "scripts": {name: hashlib.sha256(engine.load(name).encode()).hexdigest() for name in engine.names()},
    }


def test_wire_format_matches_the_snapshot() -> None:
    expected = json.loads(SNAPSHOT.read_text())
    assert current() == expected


def test_keys_follow_wire_version_6() -> None:
    keys = Keys()
    assert keys.job("send-email", "abc") == "taskora:{send-email}:abc"
    assert keys.queue("t")[0] == "taskora:{t}:wait"
    assert Keys("p").events("t") == "taskora:p:{t}:events"
    assert keys.workflow("w") == "taskora:wf:{w}"


if __name__ == "__main__" and "--update" in sys.argv:
    SNAPSHOT.write_text(json.dumps(current(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
