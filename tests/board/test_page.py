"""The board's HTML page: one request carries the style, the script and the visitor's session (page.py),
and nothing in it can be used by someone who is not logged in."""

from __future__ import annotations

import json
import re

from starlette.testclient import TestClient

from taskora import Taskora
from taskora.board import create_board

from .helpers import PASSWORD, board_client


def embedded(page: str) -> dict[str, object]:
    match = re.search(r'<script id="board-session" type="application/json">(.*?)</script>', page, re.DOTALL)
    assert match, page[:300]
    return dict(json.loads(match.group(1)))


def test_the_page_inlines_its_style_and_script(app: Taskora) -> None:
    page = TestClient(create_board(app, auth=PASSWORD)).get("/").text
    assert 'src="static/board.js"' not in page and 'href="static/board.css"' not in page
    assert "function render()" in page and ".actions {" in page
    assert "__BASE__" not in page and "__SESSION__" not in page


def test_a_visitor_who_is_not_logged_in_gets_no_csrf_token(app: Taskora) -> None:
    client = TestClient(create_board(app, auth=PASSWORD))
    reply = client.get("/")
    assert reply.headers["cache-control"] == "no-store" and "taskora_board_session" in reply.headers["set-cookie"]
    assert embedded(reply.text) == {"authenticated": False, "mode": "password", "readOnly": False,
                                    "title": "taskora", "csrf": None}


def test_a_logged_in_page_embeds_the_sessions_csrf_token(app: Taskora) -> None:
    client, csrf = board_client(app, read_only=True)
    session = embedded(client.get("/").text)
    assert session["authenticated"] is True and session["csrf"] == csrf and session["readOnly"] is True
    assert client.get("/api/session").json() == session


def test_a_title_cannot_close_the_script_that_carries_the_session(app: Taskora) -> None:
    title = '</script><script>alert("x")</script>'
    page = TestClient(create_board(app, auth=PASSWORD, title=title)).get("/").text
    assert '<script>alert("x")' not in page
    assert embedded(page)["title"] == title
