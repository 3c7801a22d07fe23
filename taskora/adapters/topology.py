"""Redis Cluster and Sentinel: reading their URLs and building the adapter's two clients for them.

A cluster adapter talks through redis-py's ``RedisCluster``, which routes every command by the slot of its
first key and follows MOVED/ASK and failovers itself. Every engine script's keys share one ``{hash tag}``
(the task's, the workflow's, or ``{schedules}``: see docs/wire-format.md), so each call goes to one node. The
per-thread direct connections of a single Redis (scripts.py) are not used on a cluster: they would talk to
one node only. A Sentinel adapter is an ordinary adapter whose connections ask the sentinels where the
master is each time they (re)connect, so it follows a failover.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from redis.exceptions import ClusterDownError, ReadOnlyError, RedisClusterException, TryAgainError

from ..errors import ConfigurationError
from ..urls import mask_url

#: What a store in the middle of a failover answers: no node reachable for a slot (RedisClusterException), the
#: cluster or master down (CLUSTERDOWN, MASTERDOWN), a slot being moved (TRYAGAIN), a write to a demoted master
#: (READONLY). Each passes once the failover is over, so the worker treats them as a lost connection.
FAILOVER_ERRORS = (RedisClusterException, ClusterDownError, TryAgainError, ReadOnlyError)
#: Schemes of a cluster URL (``redis+cluster://host:port[,host:port...]/``).
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
#: Schemes of a Sentinel URL: ours (``redis+sentinel://h:p[,h:p]/service/db``) and kombu's (``sentinel://h:p;...``).
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel", "sentinel")
#: TLS options of a ``rediss+`` URL (the CA to trust, a client certificate), named as redis-py names them.
TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
#: Query options a cluster or sentinel URL may carry besides the credentials.
_QUERY_OPTIONS = {"password", "username", "master_name", "service_name", "sentinel_password", "sentinel_username",
                  "db", "socket_timeout", "socket_connect_timeout", *TLS_OPTIONS}  # fmt: skip


def is_cluster_client(client: Any) -> bool:
    """True for redis-py's ``RedisCluster`` (whose commands are routed by key slot)."""
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


def is_sentinel_client(client: Any) -> bool:
    """True for a client from ``Sentinel.master_for`` (its pool asks the sentinels for the master)."""
    from redis.sentinel import SentinelConnectionPool

    return isinstance(getattr(client, "connection_pool", None), SentinelConnectionPool)


@dataclass
class TopologyURL:
    """What a cluster or Sentinel URL says: the seed hosts, credentials, and (Sentinel) service and database."""

    url: str
    hosts: list[tuple[str, int]]
    tls: bool = False
    username: str | None = None
    password: str | None = None
    service: str | None = None
    db: int = 0
    options: dict[str, str] = field(default_factory=dict)


def parse_topology_url(url: str) -> TopologyURL:
    """Read ``redis+cluster://``, ``redis+sentinel://`` or kombu's ``sentinel://a;sentinel://b`` URLs.

    Raises ConfigurationError naming the URL (password masked) and what is wrong with it."""
    scheme = url.partition("://")[0].lower()
    parts = [urlsplit(p.strip()) for p in url.split(";") if p.strip()]
    if any(p.scheme.lower() != scheme for p in parts):
        raise _bad(url, f"every ';'-separated part must use the scheme {scheme}://")
    first = parts[0]
    parsed = TopologyURL(url, [host for p in parts for host in _hosts(url, p.netloc)], tls=scheme.startswith("rediss"))
    parsed.username = unquote(first.username) if first.username else None
    parsed.password = unquote(first.password) if first.password else None
    for p in parts:
        parsed.options.update(_query(url, p.query))
    parsed.password = parsed.options.pop("password", parsed.password)
    parsed.username = parsed.options.pop("username", parsed.username)
    if scheme in SENTINEL_SCHEMES:
        _read_service(parsed, [p.path for p in parts])
    elif first.path.strip("/"):
        raise _bad(url, f"a cluster has no databases, got the path {first.path!r}")
    return parsed


def _hosts(url: str, netloc: str) -> list[tuple[str, int]]:
    hosts = []
    for item in netloc.rpartition("@")[2].split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise _bad(url, f"expected host:port, got {item!r}")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


def _query(url: str, query: str) -> dict[str, str]:
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(options) - _QUERY_OPTIONS
    if unknown:
        raise _bad(url, f"unknown option(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_QUERY_OPTIONS))}")
    return options


def _read_service(parsed: TopologyURL, paths: list[str]) -> None:
    """``/service_name/db`` from the path, or ``?master_name=`` (kombu's transport option) / ``?service_name=``."""
    path = next((p.strip("/") for p in paths if p.strip("/")), "")
    service, _, db = path.partition("/")
    service = parsed.options.pop("master_name", "") or parsed.options.pop("service_name", "") or service
    db = parsed.options.pop("db", "") or db or "0"
    if not service:
        raise _bad(parsed.url, "name the master: redis+sentinel://host:26379/<service_name>/<db> "
                               "or ?master_name=<service_name>")  # fmt: skip
    if not db.isdigit():
        raise _bad(parsed.url, f"the database must be a number, got {db!r}")
    parsed.service, parsed.db = service, int(db)


def connection_options(parsed: TopologyURL) -> dict[str, Any]:
    """Credentials, TLS and timeouts of the URL as redis-py connection keyword arguments."""
    options: dict[str, Any] = {"username": parsed.username, "password": parsed.password}
    if parsed.tls:  # a rediss+ URL; its ssl_* options name the CA and client certificate, as redis-py's do
        options.update({"ssl": True, **{name: parsed.options.pop(name) for name in TLS_OPTIONS
                                        if name in parsed.options}})  # fmt: skip
    for name in ("socket_timeout", "socket_connect_timeout"):
        if name in parsed.options:
            options[name] = _seconds(parsed, name)
    return {k: v for k, v in options.items() if v is not None}


def _seconds(parsed: TopologyURL, name: str) -> float:
    try:
        return float(parsed.options.pop(name))
    except ValueError:
        raise _bad(parsed.url, f"{name} must be a number of seconds") from None


def _bad(url: str, why: str) -> ConfigurationError:
    return ConfigurationError(f"broker URL {mask_url(url)!r}: {why}")


def subscribers(client: Any, channel: str, cluster: bool) -> int:
    """PUBSUB NUMSUB of ``channel``. A cluster node counts only the subscribers connected to it (a PUBLISH
    reaches every node, and its reply too counts only the local ones), so on a cluster every node is asked."""
    reply: Any = client.pubsub_numsub(channel, target_nodes="all") if cluster else client.pubsub_numsub(channel)
    return int(reply[0][1]) if reply else 0


#: Longest one blocking read waits while other streams (maybe on other nodes) go unwatched (ms).
STREAM_SLICE_MS = 50


def read_streams(blocking: Any, positions: dict[str, str], count: int, block_ms: int) -> list[Any]:
    """XREAD on a cluster, where one XREAD may only name streams of one slot: one stream blocks as usual;
    several are read one by one without blocking, then the first is blocked on for a short slice, until
    something arrives or ``block_ms`` passes (another stream's entry waits at most a slice)."""
    if len(positions) == 1:
        return blocking.xread(positions, count=count, block=block_ms) or []
    deadline = time.monotonic() + block_ms / 1000
    first = next(iter(positions))
    while True:
        found = [entry for stream in positions for entry in
                 (blocking.xread({stream: positions[stream]}, count=count) or [])]  # fmt: skip
        left_ms = int((deadline - time.monotonic()) * 1000)
        if found or left_ms <= 0:
            return found
        found = blocking.xread({first: positions[first]}, count=count, block=min(left_ms, STREAM_SLICE_MS)) or []
        if found:
            return list(found)
