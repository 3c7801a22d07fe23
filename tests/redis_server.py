"""The test session's redis-server: the project's one launcher (taskora/testing/redis_server.py), and the ports
its servers listen on."""

from __future__ import annotations

import random
import socket

from taskora.testing.redis_server import LocalRedis as RedisServer
from taskora.testing.redis_server import free_port

__all__ = ["RedisServer", "free_port", "quiet_port"]

#: Where the kernel's range of ports for outgoing connections starts when /proc does not say (Linux's default).
EPHEMERAL_START = 32768
#: The lowest port ``quiet_port`` hands out (below it: the well-known services).
QUIET_LOW = 10000
#: What a cluster node's bus port adds to its port (Redis Cluster's fixed offset).
CLUSTER_BUS_OFFSET = 10000


def ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return EPHEMERAL_START


def bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def quiet_port(*, with_bus: bool = False) -> int:
    """A free port below the kernel's range for outgoing connections, for a server whose port is handed out
    before it starts: a worker told to keep trying it, a replica and sentinels told their master's, the nodes
    of a cluster created together. A ``free_port()`` lies in that range, so any connection the session opens
    meanwhile may be given it; no connection is given this one. ``with_bus``: its cluster bus port is free and
    below the range too."""
    top = ephemeral_start() - (CLUSTER_BUS_OFFSET if with_bus else 0)
    while True:
        port = random.randrange(QUIET_LOW, top)
        if bindable(port) and (not with_bus or bindable(port + CLUSTER_BUS_OFFSET)):
            return port
