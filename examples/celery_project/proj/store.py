"""The shop's tiny data layer: orders, the audit trail and a simulated payment gateway, all in Redis."""

import json
import os

import redis

PREFIX = "shop:"


def client():
    """One client per process; the URL is the same Redis the broker uses."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"), decode_responses=True)
    return _client


_client = None


def save_order(order_id, **fields):
    client().hset(PREFIX + "order:" + order_id, mapping={k: json.dumps(v) for k, v in fields.items()})


def load_order(order_id):
    raw = client().hgetall(PREFIX + "order:" + order_id)
    return {k: json.loads(v) for k, v in raw.items()}


def audit(event, **details):
    """Append to the audit trail that the task base class writes on every success and failure."""
    client().rpush(PREFIX + "audit", json.dumps(dict(details, event=event)))


def audit_trail():
    return [json.loads(item) for item in client().lrange(PREFIX + "audit", 0, -1)]


def count_call(kind, key):
    """How many times an external service was called for `key` (the gateways below use it)."""
    return client().incr(PREFIX + "calls:" + kind + ":" + key)


def schedule_outages(kind, key, count):
    """Make the simulated service `kind` fail its next `count` calls for `key` (for demos and tests)."""
    client().set(PREFIX + "outages:" + kind + ":" + key, count)


def in_outage(kind, key):
    calls = count_call(kind, key)
    return calls <= int(client().get(PREFIX + "outages:" + kind + ":" + key) or 0)
