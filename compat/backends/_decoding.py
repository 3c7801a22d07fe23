"""``?decode_responses=true`` on a Redis result backend URL: ``backend.client`` then answers ``str``, not bytes.

Celery users write it to read results with a plain ``redis-cli``-like client, and Celery then turns
result compression off (compressed bytes cannot be decoded as text). The backend keeps working on the
app's store through its own raw client; only the client handed out is a decoding twin on the same server.
"""

from __future__ import annotations

import weakref
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["wants_decoded", "decoding_twin"]

_TRUE = ("1", "true", "yes", "on")
#: raw client -> its decoding twin (one connection pool each, made on first use).
_TWINS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def wants_decoded(url: str | None) -> bool:
    """Whether a backend URL asks for ``decode_responses`` (``?decode_responses=true``, any case)."""
    if not url or "?" not in url:
        return False
    values = parse_qs(urlsplit(url).query).get("decode_responses", [])
    return any(value.strip().lower() in _TRUE for value in values)


def decoding_twin(raw: Any) -> Any:
    """A client of the same server as ``raw`` whose replies are ``str``; ``raw`` itself when it has no
    connection pool to copy (a cluster client), so callers never lose their connection."""
    twin = _TWINS.get(raw)
    if twin is not None:
        return twin
    pool = getattr(raw, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if pool is None or kwargs is None:
        return raw
    twin_pool = type(pool)(connection_class=pool.connection_class, **{**kwargs, "decode_responses": True})
    twin = type(raw)(connection_pool=twin_pool)
    _TWINS[raw] = twin
    return twin
