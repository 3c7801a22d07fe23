"""TLS for the hot path's bare connections (direct.py): the socket is wrapped exactly as redis-py wraps its own.

A ``DirectConnection`` reproduces a pool's connections without redis-py's per-call machinery. For a pool of
``SSLConnection`` (a ``rediss://`` URL, a TLS cluster's nodes) the TLS part must match every ``ssl_*`` setting the
user gave (CA, client certificate, hostname check, minimum version, ciphers, OCSP...). Rather than re-implement
that list, a template ``SSLConnection`` is built from the pool's own arguments (it opens nothing) and its
``_wrap_socket_with_ssl`` wraps each new socket: the same context, built by the same code. That method is private
to redis-py; ``supports`` checks it is there, so a redis-py without it keeps the pooled path instead of failing.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from redis.connection import SSLConnection

#: Wraps a connected TCP socket in TLS (the handshake runs under the socket's connect timeout).
Wrap = Callable[[socket.socket], socket.socket]


def is_tls_pool(pool: Any) -> bool:
    """A pool of redis-py's own ``SSLConnection`` whose socket wrapping a DirectConnection can reuse."""
    return pool.connection_class is SSLConnection and hasattr(SSLConnection, "_wrap_socket_with_ssl")


def tls_wrapper(pool: Any) -> Wrap | None:
    """How a DirectConnection of ``pool`` wraps its socket, or None for a plain TCP or Unix pool."""
    if not is_tls_pool(pool):
        return None
    template = SSLConnection(**pool.connection_kwargs)
    wrap: Wrap = template._wrap_socket_with_ssl
    return wrap
