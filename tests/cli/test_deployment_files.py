"""The service definitions in docs/migration/deployment.md, run as written (with this repository's paths
and app in place of /srv/app and proj): supervisord for real, systemd units through ``systemd-analyze``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taskora import Taskora
from taskora.worker.control import broadcast

from .helpers import PROJ, ROOT, env_for, wait_until

GUIDE = ROOT / "docs" / "migration" / "deployment.md"
TASKORA = f"{sys.executable} -m taskora"


def _ini_blocks() -> list[str]:
    return re.findall(r"```ini\n(.*?)```", GUIDE.read_text(), re.S)


def _for_this_repo(text: str) -> str:
    """The guide's paths and app name replaced by this checkout's (the only edits made to its files)."""
    return (text.replace("/srv/app/.venv/bin/taskora", TASKORA).replace("/srv/app", str(ROOT))
            .replace("-A proj", f"-A {PROJ}"))


def _supervisor_program(name: str) -> str:
    block = next(b for b in _ini_blocks() if f"[program:{name}]" in b)
    return block.split(f"[program:{name}]", 1)[1].split("\n[", 1)[0]


def test_the_supervisord_program_runs_jobs_and_stops_warm(client: Taskora, redis_url: str, tmp_path: Path) -> None:
    pytest.importorskip("supervisor", reason="supervisor is in the test extra")
    program = _for_this_repo(_supervisor_program("taskora-worker")).replace("-Q default,mail", "-Q default,mail,slow")
    environment = ",".join(f'{k}="{v}"' for k, v in env_for(redis_url, tmp_path).items()
                           if k.startswith(("TASKORA_TEST", "PYTHON")))
    program = re.sub(r"^environment=.*$", f"environment={environment}", program, flags=re.M)
    conf = tmp_path / "supervisord.conf"
    conf.write_text(f"[supervisord]\nnodaemon=true\nlogfile={tmp_path}/supervisord.log\npidfile={tmp_path}/sd.pid\n"
                    f"[unix_http_server]\nfile={tmp_path}/sd.sock\n"
                    "[rpcinterface:supervisor]\n"
                    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
                    f"[supervisorctl]\nserverurl=unix://{tmp_path}/sd.sock\n"
                    f"[program:taskora-worker]{program}\nstdout_logfile={tmp_path}/worker.log\nredirect_stderr=true\n")
    supervisord = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)], cwd=tmp_path)
    try:
        wait_until(lambda: broadcast(client, "ping", timeout=0.3), timeout=30, what="the supervised worker")
        assert client.dispatch("add", {"a": 2, "b": 3}).result(timeout=15) == 5
        running = client.dispatch("slow", {"tag": "sup", "seconds": 1.5})
        wait_until(lambda: (tmp_path / "started-sup").exists(), what="the slow job to start")
        # stopasgroup=true: SIGTERM reaches the worker and its prefork children, still one warm shutdown
        stop = subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(conf), "stop",
                               "taskora-worker"], capture_output=True, text=True, timeout=60)
        assert "taskora-worker: stopped" in stop.stdout, stop.stdout + stop.stderr
        assert running.result(timeout=1) == "done-sup"
        assert "cold shutdown requested" not in (tmp_path / "worker.log").read_text()
    finally:
        supervisord.terminate()
        supervisord.wait(30)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_units_verify_cleanly(tmp_path: Path) -> None:
    units = [b for b in _ini_blocks() if "[Service]" in b]
    assert len(units) == 2
    for block in units:
        name = re.search(r"# /etc/systemd/system/(\S+)", block).group(1)  # type: ignore[union-attr]
        path = tmp_path / name.replace("@.service", "@1.service")
        path.write_text(_for_this_repo(block).replace("User=app", "User=root"))
        verify = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
        problems = [line for line in verify.stderr.splitlines() if str(path) in line]
        assert verify.returncode == 0 and not problems, verify.stderr
