"""A module of ``@shared_task`` functions imports while a live app's Redis is unreachable.

A shared task registers on every live app at import, and registering on an app whose engine listens to task
events used to read Redis: the import raised, the module was left half-imported, and importing it again
registered its tasks a second time ("already registered", an error under the suite's warning filter)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from taskora.compat import Celery

from tests.redis_server import RedisServer

SOURCE = """
from taskora.compat import shared_task

@shared_task(name="away.tasks.charge")
def charge(amount):
    return amount
"""


def test_a_shared_task_module_imports_while_an_apps_redis_is_down(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "away_tasks.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    server = RedisServer().start()
    app, later = Celery("away", broker=server.url), None
    try:
        app.__taskora_app__.on("task:failed", lambda event: None)  # its engine now listens to task events
        server.stop()
        importlib.import_module("away_tasks")
        assert app.tasks["away.tasks.charge"].run(5) == 5
        later = Celery("later", broker="memory://")
        assert later.tasks["away.tasks.charge"].run(6) == 6
    finally:
        sys.modules.pop("away_tasks", None)
        for each in (app, later):
            if each is not None:
                each.close()
        server.stop()

