"""The Flask/WSGI recipe of docs/operations/board.md: the board wrapped by ``a2wsgi.ASGIMiddleware`` under
werkzeug's ``DispatcherMiddleware`` at /board, the Flask app answering everything else."""

from __future__ import annotations

import pytest

from taskora import Taskora
from taskora.board import create_board

from .helpers import PASSWORD

a2wsgi = pytest.importorskip("a2wsgi", reason="a2wsgi (the ASGI-to-WSGI adapter of the recipe) is not installed")


def test_the_board_serves_under_a_flask_app_through_wsgi(app: Taskora) -> None:
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.test import Client

    app.register_task("t", None)
    app.dispatch("t", 1)
    flask_app = Flask("shop")
    flask_app.get("/hello")(lambda: "flask says hi")
    flask_app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        flask_app.wsgi_app, {"/board": a2wsgi.ASGIMiddleware(create_board(app, auth=PASSWORD))})
    client = Client(flask_app)
    assert client.get("/hello").get_data(as_text=True) == "flask says hi"
    assert '<base href="/board/">' in client.get("/board/").get_data(as_text=True)
    # buffered: read each body whole, or the board's request stays pending in a2wsgi's event loop
    assert client.get("/board/api/overview", buffered=True).status_code == 401
    assert client.post("/board/api/login", json={"password": PASSWORD}, buffered=True).status_code == 200
    assert client.get("/board/api/overview").get_json()["tasks"]["t"]["waiting"] == 1
