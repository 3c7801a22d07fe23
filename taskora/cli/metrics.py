"""``taskora metrics -A proj --port 9808``: a standalone Prometheus exporter for the app's queues.

It serves ``taskora.prometheus.render(app)`` at ``/metrics`` over plain HTTP (Python's threading HTTP
server: one scrape every few seconds needs nothing more), on 127.0.0.1 unless ``--host`` says otherwise.
``--port 0`` takes a free port; the banner on stderr names the address it serves.
"""

from __future__ import annotations

import logging
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import click

from ..adapters.base import CONNECTION_ERRORS
from ..errors import TaskoraError
from ..extras import MissingExtraError, require
from ._app import app_option, resolve
from ._output import broker_errors

if TYPE_CHECKING:
    from ..app import Taskora

log = logging.getLogger("taskora.metrics")


@click.command(short_help="Serve Prometheus metrics of the app's queues over HTTP.")
@app_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=9808, show_default=True,
              help="Port to listen on (0: any free port).")
@click.pass_context
@broker_errors
def metrics(ctx: click.Context, app_spec: str | None, host: str, port: int) -> None:
    """Serve the app's queue metrics at http://HOST:PORT/metrics until Ctrl-C or SIGTERM."""
    try:
        require("prometheus_client", "prometheus", "taskora metrics")
    except MissingExtraError as exc:
        raise click.ClickException(str(exc)) from exc
    app = resolve(ctx, app_spec).app
    app.adapter.connect()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # before the banner: whoever reads it may stop us
    try:
        server = ThreadingHTTPServer((host, port), _handler_for(app))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    click.echo(f"-> taskora metrics: serving http://{bound_host}:{bound_port}/metrics for {len(app.tasks)} "
               f"task(s) on {app.adapter.address}", err=True)
    _serve_until_stopped(server, stop)


def _serve_until_stopped(server: ThreadingHTTPServer, stop: threading.Event) -> None:
    """Serve on a thread until ``stop`` is set (SIGTERM) or Ctrl-C, then shut the server down cleanly."""
    thread = threading.Thread(target=server.serve_forever, name="taskora-metrics-http", daemon=True)
    thread.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()


def _handler_for(app: Taskora) -> type[BaseHTTPRequestHandler]:
    from ..prometheus import CONTENT_TYPE, render

    class MetricsHandler(BaseHTTPRequestHandler):
        """GET /metrics renders the app's metrics; a Redis outage answers 503 with the reason."""

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if self.path.split("?", 1)[0] != "/metrics":
                self._reply(404, b"taskora metrics: see /metrics\n", "text/plain; charset=utf-8")
                return
            try:
                body = render(app)
            except (TaskoraError, *CONNECTION_ERRORS) as exc:
                log.warning("scrape failed: %s", exc)
                self._reply(503, f"taskora metrics: {type(exc).__name__}: {exc}\n".encode(), "text/plain")
                return
            self._reply(200, body, CONTENT_TYPE)

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server API
            log.debug("%s " + format, self.address_string(), *args)

    return MetricsHandler
