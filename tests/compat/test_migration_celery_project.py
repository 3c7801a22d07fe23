"""examples/celery_project, migrated by the import rewrite, run by `taskora worker -A proj` subprocesses.

Nothing in the project is edited beyond its imports: the client processes use the project's own
modules (`proj.tasks.orders`, `proj.store`...) exactly as its web app would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from .projects.harness import migrate, project_env, wait_until, worker

pytestmark = pytest.mark.redis_only


def _db_url(redis_server, db: int) -> str:
    url = f"redis://127.0.0.1:{redis_server.port}/{db}"
    redis.Redis.from_url(url).flushdb()
    return url


def test_the_migrated_project_has_no_celery_import_left(tmp_path):
    project = migrate("celery_project", tmp_path)
    texts = "".join(p.read_text() for p in (project / "proj").rglob("*.py"))
    assert "from celery" not in texts and "import celery\n" not in texts
    assert "from taskora.compat import Celery" in (project / "proj" / "celery.py").read_text()


def test_a_malformed_task_routes_entry_stops_the_worker_naming_it(tmp_path, redis_server):
    project = migrate("celery_project", tmp_path)
    config = project / "proj" / "celeryconfig.py"
    config.write_text(config.read_text() + '\ntask_routes = {"proj.tasks.emails.*": 42}\n')
    env = project_env(_db_url(redis_server, 9))
    with worker(project, env, "-P", "threads") as process:
        wait_until(lambda: process.proc.poll() is not None, 30, "the worker to refuse its configuration")
    assert process.proc.returncode != 0
    errors = [line for line in process.output().splitlines() if "task_routes" in line]
    assert len(errors) == 1, process.output()
    assert "proj.tasks.emails.*" in errors[0] and "42" in errors[0]


def _project_files(project: Path) -> set[str]:
    return {str(p.relative_to(project)) for p in project.rglob("*.py") if "__pycache__" not in p.parts}


def test_migration_copies_every_module_of_the_project(tmp_path):
    project = migrate("celery_project", tmp_path)
    assert _project_files(project) == {
        "client.py", "proj/__init__.py", "proj/base.py", "proj/celery.py", "proj/celeryconfig.py",
        "proj/store.py", "proj/tasks/__init__.py", "proj/tasks/emails.py", "proj/tasks/orders.py",
        "proj/tasks/reports.py",
    }


def _refused(project, env, *args: str, command: str = "worker") -> list[str]:
    """Run a command that must refuse the configuration; return its output lines."""
    with worker(project, env, *args, command=command) as process:
        wait_until(lambda: process.proc.poll() is not None, 30, f"taskora {command} to refuse its configuration")
    assert process.proc.returncode != 0, process.output()
    return process.output().splitlines()


def test_a_rabbitmq_broker_url_is_refused_naming_the_url(tmp_path, redis_server):
    project = migrate("celery_project", tmp_path)
    config = project / "proj" / "celeryconfig.py"
    config.write_text(config.read_text() + '\nbroker_url = "amqp://guest@rabbit:5672//"\n')
    lines = _refused(project, project_env(_db_url(redis_server, 12)), "-P", "threads")
    errors = [line for line in lines if "amqp://guest@rabbit:5672//" in line]
    assert len(errors) == 1 and "redis://" in errors[0], lines


def test_beat_refuses_a_schedule_it_cannot_store_naming_the_entry(tmp_path, redis_server):
    project = migrate("celery_project", tmp_path)
    config = project / "proj" / "celeryconfig.py"
    config.write_text(config.read_text() + '\nbeat_schedule["bad"] = {"task": "proj.tasks.reports.daily_sales", '
                                           '"schedule": "every minute"}\n')
    lines = _refused(project, project_env(_db_url(redis_server, 13)), command="beat")
    errors = [line for line in lines if "beat_schedule['bad']" in line]
    assert len(errors) == 1 and "every minute" in errors[0], lines
