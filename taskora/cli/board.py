"""``taskora board``: serve the web board with uvicorn (needs the ``taskora[board]`` extra)."""

from __future__ import annotations

from typing import Any

import click

from ..errors import ConfigurationError
from ..urls import mask_url
from ._app import app_option, resolve
from ._output import CliError, broker_errors

LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: Seconds a stop (SIGTERM, Ctrl-C) waits for open requests, the pages' event streams included.
GRACEFUL_STOP_S = 2


def _web_stack() -> tuple[Any, Any]:
    try:
        import uvicorn

        from ..board import create_board
    except ImportError as exc:
        raise CliError(f"the board needs its web stack: pip install 'taskora[board]' ({exc})") from None
    return uvicorn, create_board


@click.command(short_help="Serve the web board (taskora[board]).")
@app_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (keep it local unless "
              "a proxy with TLS is in front).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--no-auth", is_flag=True, help="Run without authentication (otherwise TASKORA_BOARD_PASSWORD "
              "must be set).")
@click.option("--read-only", is_flag=True, help="Refuse every action (retry, cancel, purge, schedule changes).")
@click.pass_context
@broker_errors
def board(ctx: click.Context, app_spec: str | None, host: str, port: int, no_auth: bool, read_only: bool) -> None:
    """Serve the board for the app's tasks at http://HOST:PORT/ until interrupted."""
    uvicorn, create_board = _web_stack()
    app = resolve(ctx, app_spec).app
    app.adapter.connect()
    try:
        web = create_board(app, auth=False if no_auth else None, read_only=read_only)
    except ConfigurationError as exc:
        raise CliError(str(exc)) from None
    if no_auth and host not in LOOPBACK:
        click.echo(f"warning: the board on {host} without authentication: anyone who reaches that interface "
                   "can read and operate the queue", err=True)
    mode = "no authentication" if no_auth else "password from TASKORA_BOARD_PASSWORD"
    click.echo(f"taskora board on http://{host}:{port}/ ({mode}{', read-only' if read_only else ''}); "
               f"broker {mask_url(app.adapter.address)}", err=True)
    # An open page holds its event stream for ever: without a bound, a stop would wait for every browser.
    uvicorn.run(web, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACEFUL_STOP_S)
