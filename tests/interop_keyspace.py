"""Read and write a Redis keyspace in the form of the TypeScript taskora recordings
(tests/fixtures/interop/, described in /work/shared/interop/README.md), and compare two dumps
ignoring what the recordings list as volatile (times, stream ids, lock tokens and TTLs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import redis

FIXTURES = Path(__file__).with_name("fixtures") / "interop"
#: Hash fields holding ms timestamps (volatile in every recording).
TIME_FIELDS = frozenset({"ts", "processedOn", "finishedOn", "expireAt", "writtenAt"})


def recording(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _read(client: redis.Redis, key: str, kind: str) -> Any:
    if kind == "hash":
        return {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
    if kind == "list":
        return [v.decode() for v in client.lrange(key, 0, -1)]
    if kind == "set":
        return sorted(v.decode() for v in client.smembers(key))
    if kind == "zset":
        return [[m.decode(), s] for m, s in client.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        return [{"id": i.decode(), "fields": {k.decode(): v.decode() for k, v in f.items()}}
                for i, f in client.xrange(key)]
    value = client.get(key)
    return None if value is None else value.decode()


def dump(client: redis.Redis, prefix: str) -> dict[str, Any]:
    """Every key under ``taskora:<prefix>:``, as the recordings' dump entries."""
    found = {}
    for raw in client.scan_iter(match=f"taskora:{prefix}:*", count=1000):
        key = raw.decode()
        kind = client.type(key).decode()
        value = None if kind == "none" else _read(client, key, kind)
        if value is not None:  # None: the key went away while the dump ran (a lock or liveness key)
            found[key] = {"type": kind, "value": value, "pttl": client.pttl(key)}
    return found


def restore(client: redis.Redis, keyspace: dict[str, Any]) -> None:
    """Write a recorded keyspace (as TypeScript left it) into Redis."""
    for key, entry in keyspace.items():
        kind, value = entry["type"], entry["value"]
        if kind == "hash":
            client.hset(key, mapping=value)
        elif kind == "list":
            client.rpush(key, *value)
        elif kind == "zset":
            client.zadd(key, {member: score for member, score in value})
        elif kind == "stream":
            for item in value:
                client.xadd(key, item["fields"], id=item["id"])
        elif kind == "string":
            client.set(key, value)
        if entry["pttl"] > 0:
            client.pexpire(key, entry["pttl"])


def comparable(keyspace: dict[str, Any], ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """The dump with its volatile parts masked: time fields, lock tokens and TTLs, zset scores of the
    finished sets, stream ids (the stream becomes each job's ordered event names and fields)."""
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
