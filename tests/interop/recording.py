"""Load, restore and compare the TypeScript taskora's recorded Redis states (tests/fixtures/interop/).

Each ``NN-*.json`` fixture is a recording of what the TypeScript taskora (wire version 6) wrote to Redis for
one scenario; its format is described in tests/fixtures/interop/README.md (dumps are ``key -> {type, value,
pttl}``, with a ``volatile`` list naming every id and time in them). Two uses:

* **a TypeScript-made state, finished by Python**: ``restore(client, rec.snapshot("dispatched"))``, run a
  Python worker, then ``assert_same_state(dump(client, rec.prefix), rec.after, rec.volatile)``;
* **what a Python producer writes**: run it on an empty prefix, then compare with ``mask_ids=True`` (its ids
  are its own), e.g. ``assert_same_state(dump(...), rec.snapshot("dispatched"), rec.volatile, mask_ids=True)``.

Times are never compared (hash fields and scores the recording marks as time values, stream entry ids,
remaining TTLs beyond "has one"); ids are compared literally unless ``mask_ids``.

Where jobs run concurrently only each job's own event order is fixed: ``comparable`` (with ``stream_fields``)
compares such states with each job's events apart. This is the one module for the recordings: the interop
suite, the flow-control and the collect wire tests all use it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "interop"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: A metrics counter's minute bucket in a key name.
BUCKET = re.compile(r"(:metrics:[a-z]+:)\d+$")
_HASH_FIELD = re.compile(r"^(?P<key>\S+) hash field (?P<field>[^:]+): (?P<what>.+)$")
_ZSET_SCORES = re.compile(r"^(?P<key>\S+) zset scores: timestamp-derived")
#: Event fields holding times that the recordings' volatile lists do not name.
EVENT_TIME_FIELDS = frozenset({"nextAttemptAt"})
#: The time in a stored log entry (``<jobId>:logs`` list items), which the volatile list does not name.
_LOG_TIME = re.compile(r'("timestamp":)\d+')


@dataclass
class Recording:
    """One scenario as the TypeScript taskora ran it."""

    name: str
    data: dict[str, Any]

    @property
    def prefix(self) -> str:
        return str(self.data["prefix"])

    @property
    def before(self) -> dict[str, Any]:
        return dict(self.data["before"])

    @property
    def after(self) -> dict[str, Any]:
        return dict(self.data["after"])

    @property
    def volatile(self) -> list[str]:
        return list(self.data["volatile"])

    def snapshot(self, label: str) -> dict[str, Any]:
        return dict(self.data["snapshots"][label])

    def output(self, key: str) -> Any:
        """What the TypeScript driver printed under ``key`` (driver_output)."""
        for item in self.data["driver_output"]:
            if item["key"] == key:
                return item["value"]
        raise KeyError(f"{self.name} has no driver output {key!r}")

    def key(self, suffix: str) -> str:
        """The full key name ``taskora:<prefix>:<suffix>``."""
        return f"taskora:{self.prefix}:{suffix}"


def load(name: str) -> Recording:
    """The fixture whose file name starts with ``name`` (``"12"`` or ``"12-chain"``)."""
    matches = sorted(FIXTURES.glob(f"{name}*.json"))
    if len(matches) != 1:
        raise FileNotFoundError(f"{len(matches)} fixtures in {FIXTURES} match {name!r}")
    return Recording(matches[0].stem, json.loads(matches[0].read_text(encoding="utf-8")))


class ReplayClock:
    """Wall-clock time moved back to ``start_ms``: a worker then sees a restored state's ages as they were
    when it was recorded (retention by age, ttl), however long ago that was."""

    def __init__(self, start_ms: int) -> None:
        self._offset = int(time.time() * 1000) - start_ms

    def now_ms(self) -> int:
        return int(time.time() * 1000) - self._offset


def latest_time(state: dict[str, Any], volatile: Iterable[str]) -> int:
    """The latest time value in ``state``'s hashes (per the recording's volatile list): when it was taken."""
    marks = Volatile.parse(volatile)
    times = [int(v) for key, entry in state.items() if entry["type"] == "hash"
             for f, v in entry["value"].items() if marks.is_time_field(key, f) and v.isdigit()]
    return max(times)


# -- Redis <-> dump ---------------------------------------------------------------------------------
def restore(client: Any, state: dict[str, Any]) -> None:
    """Write a recorded dump into Redis (real or fakeredis) as it was, TTLs and stream ids included."""
    for key, entry in state.items():
        _write(client, key, entry["type"], entry["value"])
        if entry["pttl"] > 0:
            client.pexpire(key, entry["pttl"])


def _write(client: Any, key: str, kind: str, value: Any) -> None:
    if kind == "hash":
        client.hset(key, mapping=value)
    elif kind == "list":
        client.rpush(key, *value)
    elif kind == "set":
        client.sadd(key, *value)
    elif kind == "zset":
        client.zadd(key, {member: score for member, score in value})
    elif kind == "string":
        client.set(key, value)
    elif kind == "stream":
        for entry in value:
            client.xadd(key, entry["fields"], id=entry["id"])
    else:
        raise ValueError(f"unknown dump type {kind!r} of {key}")


def dump(client: Any, prefix: str) -> dict[str, Any]:
    """The keyspace under ``taskora:<prefix>:`` in the recordings' format. A key that goes away while the
    dump runs (a lock or liveness key lapsing) is left out, and so is one in the millisecond it lapses: Redis
    still serves a key whose expiry time is now, with a PTTL of 0, so a dump would keep it as if it had no
    TTL (this made the debounce worker wire test fail once in CI)."""
    out = {}
    for raw in sorted(client.scan_iter(match=f"taskora:{prefix}:*", count=1000)):
        key = _s(raw)
        kind = _s(client.type(key))
        if kind == "none":
            continue
        value, pttl = _read(client, key, kind), int(client.pttl(key))
        if pttl not in LAPSING:
            out[key] = {"type": kind, "value": value, "pttl": pttl}
    return out


#: PTTL's answers for a key that is gone (-2) or lapses within the millisecond (0).
LAPSING = (-2, 0)


def _read(client: Any, key: str, kind: str) -> Any:
    if kind == "hash":
        return {_s(k): _s(v) for k, v in client.hgetall(key).items()}
    if kind == "list":
        return [_s(v) for v in client.lrange(key, 0, -1)]
    if kind == "set":
        return sorted(_s(v) for v in client.smembers(key))
    if kind == "zset":
        return [[_s(m), int(s) if float(s).is_integer() else s] for m, s in client.zrange(key, 0, -1, withscores=True)]
    if kind == "string":
        return _s(client.get(key))
    if kind == "stream":
        return [{"id": _s(i), "fields": {_s(k): _s(v) for k, v in f.items()}} for i, f in client.xrange(key)]
    raise ValueError(f"unknown Redis type {kind!r} of {key}")


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- comparing --------------------------------------------------------------------------------------
@dataclass
class Volatile:
    """What the recording's ``volatile`` list marks as time values, as key patterns."""

    time_fields: list[tuple[re.Pattern[str], str]]
    time_scores: list[re.Pattern[str]]

    @classmethod
    def parse(cls, lines: Iterable[str]) -> Volatile:
        fields, scores = [], []
        for line in lines:
            m = _HASH_FIELD.match(line)
            if m and "timestamp" in m["what"]:
                fields.append((_key_pattern(m["key"]), m["field"]))
            m = _ZSET_SCORES.match(line)
            if m:
                scores.append(_key_pattern(m["key"]))
        return cls(fields, scores)

    def is_time_field(self, key: str, field: str) -> bool:
        return any(f == field and p.fullmatch(key) for p, f in self.time_fields)

    def has_time_scores(self, key: str) -> bool:
        return any(p.fullmatch(key) for p in self.time_scores)


def _key_pattern(template: str) -> re.Pattern[str]:
    """``taskora:p:{t}:<uuid>`` as a regex matching any id (or bucket) in place of the placeholders."""
    parts = re.split(r"(<uuid>|<bucket>)", template)
    body = "".join({"<uuid>": "[^:]+", "<bucket>": r"\d+"}.get(p, re.escape(p)) for p in parts)
    return re.compile(body)


@dataclass(frozen=True)
class Allowed:
    """Differences a comparison accepts (additive keys, fields or members of one side), each a documented
    deliberate difference: ``keys`` are regexes searched in key names, ``fields`` regexes of hash fields and
    ``members`` of list/set/zset members (matched whole); ``event_fields`` are left out of every stream entry."""

    keys: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    event_fields: tuple[str, ...] = ()
    members: tuple[str, ...] = ()

    def __add__(self, other: Allowed) -> Allowed:
        return Allowed(self.keys + other.keys, self.fields + other.fields, self.event_fields + other.event_fields,
                       self.members + other.members)


def normalize(state: dict[str, Any], volatile: Iterable[str], *, mask_ids: bool = False,
              allow: Allowed = Allowed()) -> list[tuple[str, str]]:  # fmt: skip
    """``state`` with times (and, with ``mask_ids``, ids) replaced by placeholders and the ``allow``ed
    differences left out: sorted (key, entry) pairs, so two dumps compare as multisets. A collection left
    empty counts as absent, as in Redis."""
    marks = Volatile.parse(volatile)
    members = [re.compile(p) for p in allow.members]
    out = []
    for key, entry in state.items():
        kept = _without_members(entry, members)
        if kept is None or any(re.search(p, key) for p in allow.keys):
            continue
        value = _normal_value(marks, key, kept["type"], kept["value"], allow)
        ttl = "none" if kept["pttl"] < 0 else "set"
        text = json.dumps({"type": kept["type"], "value": value, "ttl": ttl}, sort_keys=True)
        name = BUCKET.sub(r"\1<bucket>", key)
        out.append((UUID.sub("<id>", name), UUID.sub("<id>", text)) if mask_ids else (name, text))
    return sorted(out)


def _without_members(entry: dict[str, Any], members: list[re.Pattern[str]]) -> dict[str, Any] | None:
    """``entry`` without the list/set/zset members matching ``members``; None when nothing is left."""
    if not members or entry["type"] not in ("list", "set", "zset"):
        return entry
    zset = entry["type"] == "zset"
    value = [item for item in entry["value"] if not any(p.fullmatch(item[0] if zset else item) for p in members)]
    return {**entry, "value": value} if value else None


def _normal_value(marks: Volatile, key: str, kind: str, value: Any, allow: Allowed) -> Any:
    if kind == "hash":
        return {f: "<time>" if marks.is_time_field(key, f) else v for f, v in value.items()
                if not any(re.fullmatch(p, f) for p in allow.fields)}
    if kind == "zset":
        if marks.has_time_scores(key):  # rank order is time order too: compare members only
            return sorted([m, "<time>"] for m, _ in value)
        return value
    if kind == "stream":  # entry ids are times
        return [{f: "<time>" if f in EVENT_TIME_FIELDS else v for f, v in e["fields"].items()
                 if f not in allow.event_fields} for e in value]
    if kind == "list":
        return [_LOG_TIME.sub(r'\1"<time>"', item) for item in value]
    return value


def assert_same_state(actual: dict[str, Any], expected: dict[str, Any], volatile: Iterable[str], *,
                      mask_ids: bool = False, allow: Allowed = Allowed()) -> None:  # fmt: skip
    """Fail listing every key whose normalized entry differs between the two dumps (see ``normalize``)."""
    volatile = list(volatile)
    ours = normalize(actual, volatile, mask_ids=mask_ids, allow=allow)
    theirs = normalize(expected, volatile, mask_ids=mask_ids, allow=allow)
    if ours == theirs:
        return
    lines = ["Python's state differs from the TypeScript recording:"]
    lines += [f"  python:     {k} = {v}" for k, v in ours if (k, v) not in theirs]
    lines += [f"  typescript: {k} = {v}" for k, v in theirs if (k, v) not in ours]
    raise AssertionError("\n".join(lines))


# -- comparing with each job's events apart -----------------------------------------------------------
#: Hash fields holding ms timestamps (volatile in every recording).
TIME_FIELDS = frozenset({"ts", "processedOn", "finishedOn", "expireAt", "writtenAt"})


def comparable(keyspace: dict[str, Any], ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """The dump with its volatile parts masked: time fields, lock tokens and TTLs, zset scores, stream ids (the
    stream becomes each job's ordered event names); keys containing a part of ``ignore`` are left out."""
    out: dict[str, Any] = {}
    for key, entry in keyspace.items():
        if any(part in key for part in ignore):
            continue
        kind, value = entry["type"], entry["value"]
        if kind == "hash":
            value = {k: ("<ms>" if k in TIME_FIELDS else v) for k, v in value.items()}
        elif kind == "stream":
            value = events_by_job(value)
        elif kind == "zset":
            value = sorted(member for member, _ in value)
        elif key.endswith(":lock"):
            value = "<token>"
        out[key] = {"type": kind, "value": value, "ttl": entry["pttl"] > 0}
    return out


def events_by_job(stream: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each job's events in order (jobs run concurrently, so only each job's own order is fixed)."""
    per_job: dict[str, list[str]] = {}
    for item in stream:
        per_job.setdefault(item["fields"]["jobId"], []).append(item["fields"]["event"])
    return per_job


def stream_fields(keyspace: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """(key, fields) of every stream entry: fields other than event/jobId are checked separately."""
    return [(key, item["fields"]) for key, entry in keyspace.items() if entry["type"] == "stream"
            for item in entry["value"]]
