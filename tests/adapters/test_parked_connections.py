"""Parked hot-path connections (``ThreadConnections.park``) against a real redis-server: an idle slot of a
worker with many slots lets another thread have its connection (worker/shared_wait.py), so a process holds
about as many as it has threads busy at once. Told apart by the id Redis gives each connection (``CLIENT ID``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import redis

from taskora.adapters.scripts import SPARES_KEPT, ThreadConnections


def _in_thread(work: Callable[[], Any]) -> Any:
    """``work()`` run in a thread of its own (whose connection is its own), and its value."""
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(work()))
    thread.start()
    thread.join(10)
    return box[0]


def _connections(url: str) -> tuple[ThreadConnections, str]:
    """Thread connections named for this test (``CLIENT SETNAME``), so that the server's list tells them apart from
    the session's other clients; and the name."""
    name = f"parked-{uuid.uuid4().hex[:8]}"
    return ThreadConnections(redis.Redis.from_url(_named(url, name))), name


def _named(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}client_name={name}"


def _id_then_park(connections: ThreadConnections) -> int:
    client_id = connections.call("CLIENT", "ID")
    connections.park()
    return int(client_id)


def test_a_parked_connection_serves_the_next_thread(redis_url: str) -> None:
    connections, _name = _connections(redis_url)
    first = _in_thread(lambda: _id_then_park(connections))
    assert _in_thread(lambda: int(connections.call("CLIENT", "ID"))) == first
    connections.close()


def test_past_the_spares_kept_a_parked_connection_is_closed(redis_url: str) -> None:
    connections, name = _connections(redis_url)
    ready, go = threading.Barrier(SPARES_KEPT + 3), threading.Event()

    def busy_then_park() -> int:
        client_id = int(connections.call("CLIENT", "ID"))
        ready.wait(10)  # every thread holds a connection of its own at once
        go.wait(10)
        connections.park()
        return client_id

    threads = [threading.Thread(target=busy_then_park) for _ in range(SPARES_KEPT + 2)]
    for thread in threads:
        thread.start()
    ready.wait(10)
    go.set()
    for thread in threads:
        thread.join(10)
    ours = [c for c in redis.Redis.from_url(redis_url).client_list() if c.get("name") == name]
    assert len(ours) == SPARES_KEPT  # of SPARES_KEPT + 2 parked at once
    connections.close()


def test_a_connection_with_replies_unread_stays_with_its_thread(redis_url: str) -> None:
    connections, _name = _connections(redis_url)

    def send_then_park() -> tuple[int, Any, int]:
        client_id = int(connections.call("CLIENT", "ID"))
        (pending,) = connections.send(("PING",))
        connections.park()  # the reply is this thread's to read: it keeps the connection
        return client_id, pending.result(), int(connections.call("CLIENT", "ID"))

    client_id, reply, after = _in_thread(send_then_park)
    assert reply in (b"PONG", "PONG", True) and after == client_id
    assert _in_thread(lambda: int(connections.call("CLIENT", "ID"))) != client_id  # nothing was parked
    connections.close()
