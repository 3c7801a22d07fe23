"""taskora's own pytest plugin (the ``taskora`` pytest11 entry point): a sample project whose tests use
only its fixtures runs as a pytest subprocess, with a given Redis, with a redis-server the plugin starts,
and with no Redis at all; it coexists with the Celery front's ``taskora_celery`` plugin."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from tests.paths import ROOT

PROJECT = ROOT / "examples" / "native_pytest_project"


def _project(tmp_path: Path) -> Path:
    target = tmp_path / "native_pytest_project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return target


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKORA_", "PYTEST_", "CELERY_"))}
    env.pop("PYTHONPATH", None)
    return {**env, **extra}


def _pytest(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_plugin_is_the_taskora_entry_point_beside_taskora_celery() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("taskora") == "taskora.pytest_plugin"
    assert plugins.get("taskora_celery") == "taskora.compat.contrib.pytest"


def test_sample_project_passes_on_a_given_redis(tmp_path: Path, redis_url: str) -> None:
    done = _pytest(_project(tmp_path), _env(), "-q", "--taskora-redis-url", redis_url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "8 passed" in done.stdout


def test_sample_project_starts_its_own_redis_server_when_none_is_given(tmp_path: Path) -> None:
    assert shutil.which("redis-server"), "this test needs redis-server on PATH"
    done = _pytest(_project(tmp_path), _env(), "-q", "tests/test_worker.py")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout


def test_without_any_redis_the_worker_tests_are_skipped_and_the_rest_pass(tmp_path: Path) -> None:
    no_redis_path = str(Path(sys.executable).parent)  # python and taskora, but no redis-server
    done = _pytest(_project(tmp_path), _env(PATH=no_redis_path), "-q", "-rs")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "6 passed, 2 skipped" in done.stdout
    assert "no Redis for taskora" in done.stdout


def test_fixtures_and_markers_coexist_with_the_celery_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_both.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.taskora(start_ms=1_000_000)\n"
        "@pytest.mark.celery(task_default_queue='q')\n"
        "def test_both(taskora_app, taskora_runner, celery_app):\n"
        "    assert taskora_runner.app is taskora_app and taskora_runner.clock.now_ms() == 1_000_000\n"
        "    assert celery_app.conf.task_default_queue == 'q'\n"
        "    assert type(taskora_app.adapter).__name__ == 'MemoryAdapter'\n\n"
        "def test_worker_needs_an_app_path(taskora_worker):\n"
        "    pass\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = _pytest(tmp_path, _env(), "-q", "--strict-markers", "test_both.py")
    assert "1 passed, 1 error" in done.stdout, done.stdout[-3000:]
    assert "taskora_worker needs your app's import path" in done.stdout
    listed = _pytest(tmp_path, _env(), "--fixtures", "test_both.py").stdout
    for name in ("taskora_app", "taskora_runner", "taskora_worker", "taskora_redis_url", "celery_app"):
        assert name in listed, name
