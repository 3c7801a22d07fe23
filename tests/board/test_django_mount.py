"""The Django (ASGI) recipe of docs/operations/board.md, run as written in a fresh interpreter (Django's
settings are process-global): the board under /ops/board, everything else answered by Django."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import django
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import path

    settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["testserver"], SECRET_KEY="test only")
    urlpatterns = [path("hello/", lambda request: HttpResponse("django says hi"))]
    django.setup()

    from django.core.asgi import get_asgi_application
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    from taskora import Taskora
    from taskora.board import create_board
    from taskora.memory import memory_adapter

    taskora_app = Taskora(memory_adapter())
    taskora_app.register_task("t", None)
    taskora_app.dispatch("t", 1)
    application = Starlette(routes=[
        Mount("/ops/board", create_board(taskora_app, auth="pw")),
        Mount("/", get_asgi_application()),
    ])
    client = TestClient(application)
    assert client.get("/hello/").text == "django says hi"
    assert client.get("/nowhere/").status_code == 404
    assert '<base href="/ops/board/">' in client.get("/ops/board/").text
    assert client.get("/ops/board/api/overview").status_code == 401
    client.post("/ops/board/api/login", json={"password": "pw"}).raise_for_status()
    assert client.get("/ops/board/api/overview").json()["tasks"]["t"]["waiting"] == 1
    print("ok")
''')


def test_the_board_mounts_beside_a_django_asgi_application() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
