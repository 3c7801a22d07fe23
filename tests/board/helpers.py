"""A logged-in board client for the API tests."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from taskora import Taskora
from taskora.board import create_board

PASSWORD = "correct horse battery staple"


def login(client: TestClient, password: str = PASSWORD) -> str:
    """Log in through the API; returns the CSRF token the page would send."""
    reply = client.post("/api/login", json={"password": password})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["csrf"])


def board_client(app: Taskora, **options: Any) -> tuple[TestClient, str]:
    """A client logged in to a password board of ``app``, and its CSRF token."""
    client = TestClient(create_board(app, auth=PASSWORD, **options))
    return client, login(client)
