"""``app.amqp.queues`` / ``app.amqp.router`` and ``app.loader.import_default_modules()``."""

from __future__ import annotations

import sys

from kombu import Queue
from taskora.compat import Celery


def test_amqp_queues_are_the_declared_queues():
    app = Celery("q", broker="memory://")
    try:
        assert set(app.amqp.queues) == {"celery"} and app.amqp.queues["celery"].routing_key == "celery"
        app.conf.task_queues = [Queue("fast"), Queue("slow", routing_key="slow.#")]
        app._router = None
        assert set(app.amqp.queues) == {"fast", "slow"} and app.amqp.queues["slow"].routing_key == "slow.#"
        assert app.amqp.router is app.router
    finally:
        app.close()


def test_loader_imports_the_included_task_modules(tmp_path, monkeypatch):
    (tmp_path / "loader_tasks_mod.py").write_text(
        "from taskora.compat import shared_task\n\n@shared_task\ndef ping():\n    return 'pong'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    app = Celery("l", broker="memory://", include=["loader_tasks_mod"])
    try:
        assert "loader_tasks_mod" not in sys.modules
        app.loader.import_default_modules()
        assert "loader_tasks_mod" in sys.modules and "loader_tasks_mod.ping" in app.tasks
        assert app.loader.conf is app.conf
    finally:
        sys.modules.pop("loader_tasks_mod", None)
        app.close()
