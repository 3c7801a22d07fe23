"""The Kubernetes Deployment and the docker-compose file in docs/migration/deployment.md, run as written.

No kubelet or Docker daemon runs here, so each test plays their part, by their rules, on a Celery project
whose module is ``proj`` (the name the guide uses): the manifest is validated against the Kubernetes API
schema, the container's ``command`` is started with the environment the kubelet would give it (``env``,
secrets, ``HOSTNAME`` = the pod's name, ``$(VAR)`` expanded as Kubernetes expands it), the liveness probe is
executed as the kubelet executes an exec probe (no shell; only plain ``value:`` variables substituted), and
the pod is stopped as Kubernetes stops it (SIGTERM, then ``terminationGracePeriodSeconds``). The compose
services' ``command`` strings are split and started as Docker starts them, and stopped as ``docker stop``
does (SIGTERM, then ``stop_grace_period``).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from taskora.compat import Celery

from ..processes import kill_process_group
from .helpers import ROOT, wait_until

GUIDE = ROOT / "docs" / "migration" / "deployment.md"
POD_NAME = "worker-7d9f8b6c4-x2x7q"

PROJ = """
    import os, time
    from taskora.compat import Celery

    app = Celery("proj", broker=os.environ["REDIS_URL"], backend=os.environ["REDIS_URL"])

    @app.task(name="proj.add")
    def add(x, y):
        return x + y

    @app.task(name="proj.slow")
    def slow(seconds):
        open("started-" + slow.request.id, "w").close()
        time.sleep(seconds)
        return "finished"
"""


def _yaml_block(marker: str) -> dict[str, Any]:
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), re.S) if marker in b)
    return yaml.safe_load(block)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The image's working directory: ``proj.py``, and ``taskora`` on PATH as a pip install puts it."""
    (tmp_path / "proj.py").write_text(textwrap.dedent(PROJ))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "taskora"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m taskora "$@"\n')
    shim.chmod(0o755)
    return tmp_path


def _image_env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "TASKORA_", "CELERY_"))}
    env["PATH"] = f"{project / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(project), str(ROOT)])
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def client(redis_url: str) -> Iterator[Celery]:
    app = Celery("proj", broker=redis_url, backend=redis_url)
    yield app
    app.close()


# -- Kubernetes ----------------------------------------------------------------------------------


def _expand(text: str, variables: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: known names are replaced, ``$$`` is a literal ``$``, others stay."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else variables.get(m.group(1), m.group(0)), text)


def _container_env(container: dict[str, Any], secrets: dict[tuple[str, str], str]) -> tuple[dict[str, str],
                                                                                              dict[str, str]]:
    """(every variable the container gets, only those given by ``value:``: what an exec probe may expand)."""
    resolved: dict[str, str] = {}
    literal: dict[str, str] = {}
    for entry in container.get("env", []):
        if "value" in entry:
            resolved[entry["name"]] = literal[entry["name"]] = _expand(str(entry["value"]), resolved)
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            resolved[entry["name"]] = secrets[(ref["name"], ref["key"])]
    return resolved, literal


def _in_pod(argv: list[str]) -> list[str]:
    """``argv`` in its own UTS namespace named like the pod, as a container is: the worker's ``%h``."""
    return ["unshare", "--uts", "sh", "-c", f'hostname {POD_NAME} && exec "$@"', "pod", *argv]


def _can_name_a_pod() -> bool:
    try:
        return subprocess.run(_in_pod(["true"]), capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _probe_passes(argv: list[str], env: dict[str, str], cwd: Path, timeout_s: float) -> bool:
    try:
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=timeout_s).returncode == 0
    except subprocess.TimeoutExpired:  # the kubelet counts a probe past timeoutSeconds as failed
        return False


def test_the_kubernetes_manifest_is_a_valid_deployment() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is in the test extra")
    deployment = _yaml_block("kind: Deployment")
    kubernetes_validate.validate(deployment, "1.30.0", strict=True)


@pytest.mark.skipif(not _can_name_a_pod(), reason="needs `unshare --uts` (root) to give the worker the pod's hostname")
def test_the_kubernetes_worker_runs_answers_its_liveness_probe_and_stops_warm(client: Celery, redis_url: str,
                                                                                  project: Path) -> None:
    spec = _yaml_block("kind: Deployment")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    variables, literal = _container_env(container, {("redis", "url"): redis_url})
    env = {**_image_env(project), "HOSTNAME": POD_NAME, **variables}
    argv = [_expand(arg, variables) for arg in container["command"]]
    probe = container["livenessProbe"]
    probe_argv = [_expand(arg, literal) for arg in probe["exec"]["command"]]
    assert _probe_passes(probe_argv, env, project, probe["timeoutSeconds"]) is False  # no worker yet
    log = project / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(_in_pod(argv), cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        wait_until(lambda: _probe_passes(probe_argv, env, project, probe["timeoutSeconds"]), timeout=30,
                   what="the liveness probe to pass")
        assert client.send_task("proj.add", args=(2, 3)).get(timeout=15) == 5
        running = client.send_task("proj.slow", args=(1.5,))
        wait_until(lambda: (project / f"started-{running.id}").exists(), timeout=15, what="the slow task to start")
        os.kill(worker.pid, signal.SIGTERM)  # the pod is deleted: SIGTERM to the container's process
        worker.wait(timeout=spec["terminationGracePeriodSeconds"])
        assert worker.returncode == 0, log.read_text()
        assert running.get(timeout=1) == "finished", log.read_text()
        assert _probe_passes(probe_argv, env, project, probe["timeoutSeconds"]) is False
    finally:
        kill_process_group(worker)


# -- docker-compose ------------------------------------------------------------------------------


def _compose_env(service: dict[str, Any], redis_url: str) -> dict[str, str]:
    """The service's environment, with the compose network's ``redis`` host pointed at the test's Redis."""
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    return {k: str(v).replace("redis:6379", host_port) for k, v in service.get("environment", {}).items()}


def _grace_seconds(period: str) -> float:
    value, unit = re.fullmatch(r"(\d+)([smh])", period).groups()  # type: ignore[union-attr]
    return int(value) * {"s": 1, "m": 60, "h": 3600}[unit]


def test_the_compose_worker_and_beat_start_as_docker_starts_them(client: Celery, redis_url: str,
                                                                   project: Path) -> None:
    services = _yaml_block("services:")["services"]
    assert services["redis"]["image"].startswith("redis:")
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("worker", "beat"):
            service = services[name]
            env = {**_image_env(project), "HOSTNAME": f"{name}1", **_compose_env(service, redis_url)}
            with (project / f"{name}.log").open("w") as out:
                started[name] = subprocess.Popen(shlex.split(service["command"]), cwd=project, env=env,
                                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        assert client.send_task("proj.add", args=(20, 22)).get(timeout=30) == 42
        running = client.send_task("proj.slow", args=(2.0,))
        wait_until(lambda: (project / f"started-{running.id}").exists(), timeout=15, what="the slow task to start")
        for name, proc in started.items():  # docker stop: stop_signal (SIGTERM) to the container's main process
            os.kill(proc.pid, signal.Signals[services[name].get("stop_signal", "SIGTERM")])
            proc.wait(timeout=_grace_seconds(services[name].get("stop_grace_period", "10s")))
            assert proc.returncode == 0, f"{name}:\n" + (project / f"{name}.log").read_text()
        assert running.get(timeout=1) == "finished"
    finally:
        for proc in started.values():
            kill_process_group(proc)
