"""The ``taskora_celery`` pytest plugin: a migrated Celery test suite runs unchanged, as a pytest subprocess."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from .projects.harness import migrate, project_env

PLUGIN = "taskora.compat.contrib.pytest"


def _pytest(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def test_plugin_is_an_entry_point_whose_name_does_not_clash_with_celerys():
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("taskora_celery") == PLUGIN
    assert plugins.get("celery") != PLUGIN


def test_migrated_celery_pytest_project_passes_unchanged(tmp_path, redis_url):
    project = migrate("celery_pytest_project", tmp_path)
    done = _pytest(project, project_env(redis_url), "-q")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "9 passed" in done.stdout


def test_fixture_names_and_scopes_are_celerys(tmp_path, redis_url):
    project = migrate("celery_pytest_project", tmp_path)
    done = _pytest(project, project_env(redis_url), "--setup-plan", "-q", "tests/test_tasks.py",
                   "tests/session/test_session.py")
    assert done.returncode == 0, done.stdout[-3000:]
    plan = done.stdout
    for name in ("celery_config", "celery_parameters", "celery_enable_logging", "use_celery_app_trap",
                 "celery_includes", "celery_worker_pool", "celery_worker_parameters", "celery_session_app",
                 "celery_session_worker"):
        assert f"SETUP    S {name}" in plan, name
    for name in ("celery_app", "celery_worker"):
        assert f"SETUP    F {name}" in plan, name


def test_default_config_marker_and_depends_on_current_app_without_redis(tmp_path):
    (tmp_path / "test_mem.py").write_text(
        "import pytest\n"
        "from taskora.compat import current_app\n\n"
        "def test_memory_engine(celery_app, celery_worker):\n"
        "    @celery_app.task(name='t.double')\n"
        "    def double(x):\n"
        "        return 2 * x\n"
        "    celery_worker.reload()\n"
        "    assert double.delay(21).get(timeout=10) == 42\n"
        "    assert type(celery_app.__taskora_app__.adapter).__name__ == 'MemoryAdapter'\n\n"
        "@pytest.mark.celery(task_default_queue='elsewhere')\n"
        "def test_marker(celery_app, depends_on_current_app):\n"
        "    assert celery_app.conf.task_default_queue == 'elsewhere'\n"
        "    assert current_app._get_current_object() is celery_app\n"
    )
    done = _pytest(tmp_path, project_env("redis://unused:1/0"), "-q", "--strict-markers", "test_mem.py")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 passed" in done.stdout
