"""``taskora worker -c auto`` and ``worker_concurrency='auto'``: the pool is sized from the CPU budget
(taskora/sysinfo.py), the size is what ``inspect stats`` reports, and the worker logs how it was chosen."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from taskora.compat import Celery

from taskora.sysinfo import cpu_budget

from ..processes import kill_process_group
from .helpers import ROOT, wait_until

APP = """
    import os
    from taskora.compat import Celery

    app = Celery("autoproj", broker=os.environ["REDIS_URL"])
    if os.environ.get("CONF_CONCURRENCY"):
        app.conf.worker_concurrency = os.environ["CONF_CONCURRENCY"]

    @app.task(name="autoproj.add")
    def add(x, y):
        return x + y
"""


def _env(url: str, project: Path, **extra: str) -> dict[str, str]:
    return dict(os.environ, REDIS_URL=url, PYTHONUNBUFFERED="1", **extra,
                PYTHONPATH=os.pathsep.join([str(project), str(ROOT), os.environ.get("PYTHONPATH", "")]))


def _stats_of_worker(url: str, tmp_path: Path, *args: str, **extra: str) -> tuple[dict[str, object], str]:
    """Start ``taskora worker -A autoproj <args>``, read its Celery-shaped stats, stop it; (stats, its log)."""
    (tmp_path / "autoproj.py").write_text(textwrap.dedent(APP))
    node = f"auto-{os.getpid()}@{socket.gethostname()}"
    log_path = tmp_path / "worker.log"
    client = Celery("client", broker=url)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A", "autoproj", "-n", node, "-l",
                                 "INFO", *args], cwd=tmp_path, env=_env(url, tmp_path, **extra), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            def stats() -> dict[str, object] | None:
                assert proc.poll() is None, log_path.read_text()
                return (client.control.inspect(destination=[node], timeout=0.5).stats() or {}).get(node)

            found = wait_until(stats, what=f"{node} to answer stats")
            assert client.send_task("autoproj.add", args=[2, 3]).get(timeout=20) == 5
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0, log_path.read_text()
        finally:
            kill_process_group(proc)
            client.close()
    return found, log_path.read_text()


def test_c_auto_sizes_a_prefork_pool_from_the_cpu_budget(redis_url: str, tmp_path: Path) -> None:
    expected = cpu_budget().count
    stats, log = _stats_of_worker(redis_url, tmp_path, "-P", "prefork", "-c", "auto")
    assert stats["pool"]["max-concurrency"] == expected  # type: ignore[index]
    assert f"worker_concurrency='auto' resolved to {expected} (pool=prefork" in log


def test_worker_concurrency_auto_setting_sizes_a_threads_pool_by_the_cpus(redis_url: str, tmp_path: Path) -> None:
    expected = cpu_budget(use_cgroup_quota=False).count
    stats, log = _stats_of_worker(redis_url, tmp_path, "-P", "threads", CONF_CONCURRENCY="Auto")
    assert stats["pool"]["max-concurrency"] == expected  # type: ignore[index]
    assert f"only sizes the prefork pool; using available cpus={expected} for pool=threads" in log


@pytest.mark.parametrize("value", ["0", "many", "-2"])
def test_c_rejects_what_is_neither_a_count_nor_auto(value: str, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "taskora", "worker", "-A", "nowhere", "-c", value], cwd=ROOT,
                         env=_env("redis://127.0.0.1:1/0", tmp_path), capture_output=True, text=True, timeout=30)
    assert out.returncode == 2, out.stderr
    assert f"expected a whole number >= 1 or 'auto', got {value!r}" in out.stderr
