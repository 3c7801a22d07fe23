"""The throwaway servers the test session, the benchmark and the pytest plugin start: a port picked free may be
taken by another process before the server binds it, and the set must still come up (stop 44's CI failed on
exactly that: one cluster node's port was taken, and every cluster test of the session errored)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from taskora.errors import ConfigurationError
from taskora.testing.redis_server import LocalRedis

from ..redis_cluster import RedisCluster, RedisSentinels
from ..redis_server import CLUSTER_BUS_OFFSET, bindable, ephemeral_start, quiet_port


@contextmanager
def taken(port: int) -> Iterator[None]:
    """``port`` held by another listener, as a process racing the server for it would."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield


def test_a_server_whose_picked_port_was_taken_starts_on_another() -> None:
    server = LocalRedis()
    picked = server.port
    try:
        with taken(picked):
            server.start()
        assert server.port != picked
        assert redis.Redis(port=server.port).ping()
    finally:
        server.stop()


def test_a_restart_never_moves_the_server_its_clients_know() -> None:
    server = LocalRedis().start()
    try:
        server.stop()
        with taken(server.port), pytest.raises(ConfigurationError, match=f"port {server.port}"):
            server.start()
    finally:
        server.stop()


def test_cluster_nodes_come_up_on_fresh_ports_when_one_picked_port_was_taken() -> None:
    cluster = RedisCluster()
    picked = cluster.nodes[3].port
    try:
        with taken(picked):
            cluster._start_nodes()
        assert len(cluster.running()) == cluster.size
        assert picked not in {node.port for node in cluster.nodes}
    finally:
        cluster.stop()


def test_a_sentinel_set_whose_master_port_was_taken_is_built_again_around_the_new_master() -> None:
    sentinels = RedisSentinels()
    picked = sentinels.master.port
    try:
        with taken(picked):
            sentinels.start()
        assert sentinels.master.port != picked
        assert sentinels.master_port() == sentinels.master.port
    finally:
        sentinels.stop()


def test_a_port_told_in_advance_is_one_no_outgoing_connection_can_be_given() -> None:
    for with_bus in (False, True):
        port = quiet_port(with_bus=with_bus)
        highest = port + CLUSTER_BUS_OFFSET if with_bus else port
        assert highest < ephemeral_start()
        assert bindable(port) and (not with_bus or bindable(port + CLUSTER_BUS_OFFSET))
