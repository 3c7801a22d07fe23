"""A worker starts against a Redis that is full (``maxmemory`` with ``noeviction``) and drains its queue
(issue #20): adding workers is how a full queue gets emptied, so their start-up must not need to write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from taskora import Taskora
from taskora.errors import TaskoraError
from taskora.worker.liveness import Liveness

from ..cli.helpers import WorkerProcess, client_app
from ..redis_server import RedisServer
from ..waiting import wait_until


@pytest.fixture
def full_server() -> Iterator[RedisServer]:
    """A redis-server that refuses writes (OOM) once it holds 2 MB."""
    server = RedisServer(extra_args=("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")).start()
    yield server
    server.stop()


def _fill(client: Taskora) -> int:
    """Enqueue jobs of a few milliseconds each until Redis refuses one; returns how many were enqueued."""
    enqueued = 0
    while enqueued < 100_000:
        try:
            client.dispatch("slow", {"seconds": 0.004, "tag": enqueued, "pad": "x" * 100})
        except TaskoraError as exc:
            assert "maxmemory" in str(exc), exc
            return enqueued
        enqueued += 1
    raise AssertionError("Redis never became full")


@pytest.mark.parametrize(("stored_meta", "pool"), [(True, "threads"), (False, "threads"), (True, "prefork")],
                         ids=["meta-stored", "fresh-store", "prefork"])
def test_a_worker_started_against_a_full_redis_drains_its_queue(full_server: RedisServer, tmp_path: Path,
                                                               stored_meta: bool, pool: str) -> None:  # fmt: skip
    # Given a Redis filled with waiting jobs until an enqueue failed (with taskora:meta written first, or
    # filled by clients only, so that no worker ever wrote it)
    client = client_app(full_server.url)
    worker = None
    try:
        if stored_meta:
            client.adapter.connect()
        enqueued = _fill(client)
        assert client.adapter.counts("slow")["waiting"] == enqueued > 100
        # When a worker starts
        worker = WorkerProcess(full_server.url, tmp_path, "-P", pool, "-c", "2")
        # Then it drains the queue
        wait_until(lambda: client.adapter.counts("slow")["waiting"] == 0, 60, "the queue to drain")
        assert worker.proc.poll() is None, worker.log()
        # And no job ran twice (in a prefork pool, children whose liveness keys were refused do not take each
        # other's jobs for jobs of gone workers)
        assert "is gone" not in worker.log() and "returned to the queue" not in worker.log(), worker.log()
        if pool == "threads":
            assert "is full (maxmemory)" in worker.log(), worker.log()
    finally:
        client.close()
        if worker is not None:
            worker.stop()


def test_a_reclaimer_whose_beat_was_refused_takes_no_job_until_a_beat_gets_through(full_server: RedisServer) -> None:
    """A full Redis refuses every worker's beat alike, so a key that lapsed then says nothing of its worker. A
    reclaimer whose last beat was refused takes no job even at a moment Redis takes writes again (memory freed as
    the queue drains), though its own key lasts; before, a prefork child took its sibling's running jobs so, and
    both ran them. Once its own beat gets through, a gone worker's job is reclaimed as ever."""
    app = Taskora(full_server.url)
    task = app.task("t", lambda _: None)
    control = redis.Redis.from_url(full_server.url)
    try:
        me = Liveness(app.adapter, "me@host")
        me.beat()
        handle = app.dispatch("t", None)
        assert app.adapter.claim("t", Liveness(app.adapter, "gone@host").new_token(), 30_000).job.id == handle.id
        control.config_set("maxmemory", 1)  # full: every write refused
        me.beat()  # refused, reported
        control.config_set("maxmemory", "2mb")  # writes taken again; the next beat is half a second away
        assert me.reclaim(task) == []
        assert app.adapter.get_job("t", handle.id)["state"] == "active"
        me.beat()
        assert me.reclaim(task) == [handle.id]
    finally:
        control.close()
        app.close()
