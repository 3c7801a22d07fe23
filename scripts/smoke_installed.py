"""Prove an installed taskora works: run it from a virtualenv that holds the built wheel, away from the
source tree (``.ci/wheel`` copies this file out of the checkout before running it).

    python smoke_installed.py [path/to/demo.py]

Checks, each failing loudly: the package is not imported from a source checkout; ``taskora --help``
runs; the demo runs on the in-memory engine; a job round-trips through a real ``redis-server`` (when
one is on PATH) with a ``taskora worker`` subprocess; the Celery front creates an app and runs a task.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import taskora


def check_installed_copy() -> None:
    location = Path(taskora.__file__).resolve()
    if "site-packages" not in location.parts:
        raise SystemExit(f"smoke: taskora imported from {location}, not from an installed wheel")
    print(f"smoke: taskora {taskora.__version__} from {location.parent}")


def check_cli_help() -> None:
    taskora_cli = Path(sys.executable).with_name("taskora")
    out = subprocess.run([str(taskora_cli), "--help"], capture_output=True, text=True, check=True).stdout
    if "worker" not in out:
        raise SystemExit(f"smoke: 'taskora --help' does not list the worker command:\n{out}")
    print("smoke: taskora --help lists its commands")


def check_demo(demo: Path) -> None:
    out = subprocess.run([sys.executable, str(demo)], capture_output=True, text=True, timeout=120)
    if out.returncode != 0 or "resized 20 images" not in out.stdout:
        raise SystemExit(f"smoke: the demo failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    print("smoke: the demo ran on the in-memory engine")


def check_compat_app() -> None:
    from taskora.compat import Celery

    app = Celery("smoke", task_always_eager=True)

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    if add.delay(2, 3).get(timeout=5) != 5:
        raise SystemExit("smoke: the Celery front's eager task returned the wrong value")
    print("smoke: the Celery front creates an app and runs a task")


PROJECT = '''
from taskora import Taskora
import os
app = Taskora(os.environ["SMOKE_REDIS_URL"])

@app.task("double")
def double(data):
    return data * 2
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_redis(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"smoke: redis-server exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)  # polling a socket for readiness: no event to wait on
    raise SystemExit("smoke: redis-server did not start within 10 s")


def check_redis_round_trip(workdir: Path) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        print("smoke: no redis-server on PATH, Redis round trip not checked")
        return
    port = free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(workdir)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_redis(port, server)
        run_job_through_worker(workdir, f"redis://127.0.0.1:{port}/0")
    finally:
        server.kill()
        server.wait(5)


def run_job_through_worker(workdir: Path, url: str) -> None:
    (workdir / "smokeproj.py").write_text(PROJECT)
    env = {**os.environ, "SMOKE_REDIS_URL": url, "PYTHONPATH": str(workdir)}
    taskora_cli = Path(sys.executable).with_name("taskora")
    worker = subprocess.Popen([str(taskora_cli), "worker", "-A", "smokeproj", "-P", "threads", "-c", "2"],
                              cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        sys.path.insert(0, str(workdir))
        os.environ["SMOKE_REDIS_URL"] = url
        import smokeproj  # type: ignore[import-not-found]

        value = smokeproj.double.dispatch(21).result(timeout=30)
        if value != 42:
            raise SystemExit(f"smoke: the Redis job returned {value!r}, not 42")
        smokeproj.app.close()
        print(f"smoke: a job ran through redis-server and a 'taskora worker' subprocess ({url})")
    finally:
        worker.terminate()
        worker.wait(30)


def main() -> None:
    check_installed_copy()
    check_cli_help()
    if len(sys.argv) > 1:
        check_demo(Path(sys.argv[1]))
    check_compat_app()
    with tempfile.TemporaryDirectory() as tmp:
        check_redis_round_trip(Path(tmp))
    print("smoke: all checks passed")


if __name__ == "__main__":
    main()
