"""A TCP relay in front of redis-server that can go silent: from ``silence()`` on, no byte passes either
way, yet every socket stays open (no FIN, no RST), as when the host behind it is suspended or a firewall
starts dropping the flow. Killing redis-server cannot stand in for that: its peers read EOF at once."""

from __future__ import annotations

import selectors
import socket
import threading


class SilentProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._silent = threading.Event()
        self._closed = threading.Event()
        self._peer: dict[socket.socket, socket.socket] = {}
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._server, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name="silent-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def relayed(self) -> int:
        """How many client connections are open through the relay now."""
        return len(self._peer) // 2

    def silence(self) -> None:
        self._silent.set()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        for sock in [*self._peer, self._server]:
            sock.close()
        self._selector.close()

    def _run(self) -> None:
        while not self._closed.is_set():
            for key, _events in self._selector.select(0.05):
                if key.fileobj is self._server:
                    self._accept()
                elif not self._silent.is_set():
                    self._relay(key.fileobj)  # type: ignore[arg-type]

    def _accept(self) -> None:
        client, _address = self._server.accept()
        try:
            upstream = socket.create_connection(self._upstream)
        except OSError:
            client.close()
            return
        self._peer[client], self._peer[upstream] = upstream, client
        for sock in (client, upstream):
            self._selector.register(sock, selectors.EVENT_READ)

    def _relay(self, source: socket.socket) -> None:
        try:
            data = source.recv(65536)
            if data:
                self._peer[source].sendall(data)
                return
        except OSError:
            pass
        self._drop(source)

    def _drop(self, source: socket.socket) -> None:
        for sock in (source, self._peer.get(source)):
            if sock is not None and sock in self._peer:
                self._selector.unregister(sock)
                del self._peer[sock]
                sock.close()
