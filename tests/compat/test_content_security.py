"""``accept_content`` is enforced by a live ``taskora worker -A`` as Celery's worker does: a pickle payload sent
to an app that accepts only JSON fails with kombu's ``ContentDisallowed`` and is never unpickled.

The "attacker" is a client of the same broker whose pickle, when loaded, creates a file; the file's absence
proves the payload was not decoded. Redis only: the worker is another process.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu.exceptions import ContentDisallowed
from taskora.compat import Celery, states

from .celery_helpers import CeleryWorker

PROJECT = '''
    import os

    from taskora.compat import Celery

    app = Celery("secure_proj", broker=os.environ["REDIS_URL"])
    app.conf.task_serializer = "pickle"
    app.conf.accept_content = os.environ["ACCEPT"].split(",")


    @app.task
    def store(value):
        return "ran"
'''


class Exploit:
    """Unpickling this opens (so creates) ``path``: a stand-in for any code an attacker would run."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> Any:
        return (open, (self.path, "w"))


@pytest.fixture
def start_project(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    (tmp_path / "secure_proj.py").write_text(textwrap.dedent(PROJECT))
    started: list[tuple[CeleryWorker, Celery]] = []

    def start(accept: str) -> tuple[CeleryWorker, Celery]:
        monkeypatch.setenv("ACCEPT", accept)  # read by the worker's copy of the project
        client = Celery("secure_proj", broker=redis_url, task_serializer="pickle", accept_content=["pickle"])
        worker = CeleryWorker(tmp_path, "secure_proj", redis_url, f"sec{uuid.uuid4().hex[:6]}@test", "-P", "solo")
        started.append((worker, client))
        return worker.wait_ready(client), client

    yield start
    for worker, client in started:
        worker.stop()
        client.close()


def test_a_pickle_payload_is_refused_undecoded_when_only_json_is_accepted(start_project: Any, tmp_path: Path) -> None:
    _, client = start_project("json")
    marker = tmp_path / "pwned"
    result = client.send_task("secure_proj.store", args=[Exploit(marker)])

    with pytest.raises(ContentDisallowed, match="pickle"):
        result.get(timeout=20)
    assert result.state == states.FAILURE
    assert not marker.exists(), "the worker unpickled a payload accept_content does not allow"


def test_the_same_payload_runs_when_pickle_is_accepted(start_project: Any, tmp_path: Path) -> None:
    """The control: the refusal above comes from accept_content, not from a payload that cannot load."""
    _, client = start_project("json,pickle")
    marker = tmp_path / "opened"
    assert client.send_task("secure_proj.store", args=[Exploit(marker)]).get(timeout=20) == "ran"
    assert marker.exists()


def test_results_are_loaded_only_under_result_accept_content(start_project: Any, redis_url: str) -> None:
    _, client = start_project("pickle")
    job = client.send_task("secure_proj.store", args=[1])
    assert job.get(timeout=20) == "ran"
    reader = Celery("secure_proj", broker=redis_url, task_serializer="pickle", accept_content=["pickle"],
                    result_accept_content=["json"])
    reader.task(name="secure_proj.store")(lambda value: None)  # so the reader knows where the job lives
    try:
        with pytest.raises(ContentDisallowed, match="result_accept_content"):
            reader.AsyncResult(job.id).get(timeout=5)
    finally:
        reader.close()


def test_result_accept_content_alone_decides_how_results_load(start_project: Any, redis_url: str) -> None:
    """Jobs refused (accept_content is JSON only) but results accepted: get() returns the stored value."""
    _, client = start_project("pickle")
    job = client.send_task("secure_proj.store", args=[1])
    assert job.get(timeout=20) == "ran"
    reader = Celery("secure_proj", broker=redis_url, task_serializer="pickle", accept_content=["json"],
                    result_accept_content=["pickle"])
    reader.task(name="secure_proj.store")(lambda value: None)
    try:
        assert reader.AsyncResult(job.id).get(timeout=5) == "ran"
    finally:
        reader.close()
