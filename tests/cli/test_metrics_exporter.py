"""``taskora metrics``: a standalone Prometheus exporter, run as a subprocess and scraped over HTTP while a
real worker (another subprocess) runs jobs; the scrape is parsed with prometheus_client's own parser."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from taskora import Taskora

from .helpers import PROJ, ROOT, WorkerProcess, env_for, run_cli, wait_until

parser = pytest.importorskip("prometheus_client.parser")


class Exporter:
    """A ``taskora metrics --port 0`` subprocess; its banner names the port it took."""

    def __init__(self, url: str, workdir: Path, *args: str) -> None:
        cmd = [sys.executable, "-m", "taskora", "metrics", "-A", PROJ, "--port", "0", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env_for(url, workdir), stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        self.banner = self.proc.stderr.readline()
        assert "serving http://" in self.banner, f"no banner: {self.banner!r}"
        self.base = self.banner.split("serving ", 1)[1].split("/metrics", 1)[0]

    def get(self, path: str = "/metrics") -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as reply:
                return reply.status, reply.headers["Content-Type"], reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["Content-Type"], exc.read().decode()

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of a scrape, keyed by (sample name, sorted labels)."""
        status, _type, body = self.get()
        assert status == 200, body
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in parser.text_string_to_metric_families(body) for s in family.samples}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


@pytest.fixture
def exporter(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., Exporter]]:
    started: list[Exporter] = []

    def start(*args: str) -> Exporter:
        started.append(Exporter(redis_url, tmp_path, *args))
        return started[-1]

    yield start
    for one in started:
        one.stop()


def sample(scrape: dict[Any, float], name: str, **labels: str) -> float | None:
    return scrape.get((name, tuple(sorted(labels.items()))))


def test_a_scrape_shows_a_live_workers_jobs(client: Taskora, start_worker: Callable[..., WorkerProcess],
                                            exporter: Callable[..., Exporter]) -> None:  # fmt: skip
    start_worker("-c", "2")
    metrics = exporter()
    assert "http://127.0.0.1:" in metrics.banner  # loopback unless told otherwise
    before = metrics.scrape()  # the tally starts here
    assert sample(before, "taskora_jobs_completed_total", task="add") == 0
    assert sample(before, "taskora_workers_online") == 1

    add = client.tasks["add"]
    assert [add.dispatch({"a": i, "b": 1}).result(timeout=10) for i in range(3)] == [1, 2, 3]
    with pytest.raises(Exception, match="KeyError"):
        add.dispatch({"a": 1}).result(timeout=10)  # no "b": fails for good (one attempt)

    def tallied() -> dict[Any, float] | None:
        scrape = metrics.scrape()
        return scrape if sample(scrape, "taskora_jobs_failed_total", task="add") else None

    scrape = wait_until(tallied, what="the failure to be tallied")
    assert sample(scrape, "taskora_jobs_completed_total", task="add") == 3
    assert sample(scrape, "taskora_jobs", task="add", state="completed") == 3
    assert sample(scrape, "taskora_jobs", task="add", state="failed") == 1
    assert sample(scrape, "taskora_jobs", task="add", state="waiting") == 0
    assert sample(scrape, "taskora_job_duration_seconds_count", task="add", outcome="completed") == 3
    assert sample(scrape, "taskora_job_duration_seconds_bucket", task="add", outcome="completed", le="+Inf") == 3
    assert sample(scrape, "taskora_job_duration_seconds_count", task="add", outcome="failed") == 1
    assert sample(scrape, "taskora_queue_depth", task="add") == 0


def test_the_exporter_answers_only_metrics(exporter: Callable[..., Exporter]) -> None:
    metrics = exporter()
    status, content_type, _body = metrics.get()
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert metrics.get("/")[0] == 404


def test_the_exporter_stops_on_sigterm(exporter: Callable[..., Exporter]) -> None:
    metrics = exporter()
    metrics.proc.terminate()
    assert metrics.proc.wait(10) == 0


def test_an_unreachable_broker_is_a_clear_error(tmp_path: Path) -> None:
    done = run_cli("redis://127.0.0.1:1/0", tmp_path, "metrics", "-A", PROJ, "--port", "0", timeout=60)
    assert done.returncode == 3, done.stderr  # the CLI's code for an unreachable broker
    assert len(done.stderr.strip().splitlines()) == 1 and "cannot reach" in done.stderr, done.stderr


def test_without_the_extra_the_command_names_it(redis_url: str, tmp_path: Path) -> None:
    blocked = ("import sys; sys.modules['prometheus_client'] = None; sys.argv = ['taskora', 'metrics', '-A', "
               f"{PROJ!r}, '--port', '0']; from taskora.cli import main; main()")
    done = subprocess.run([sys.executable, "-c", blocked], cwd=ROOT, env=env_for(redis_url, tmp_path),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "pip install 'taskora[prometheus]'" in done.stderr and "Traceback" not in done.stderr
