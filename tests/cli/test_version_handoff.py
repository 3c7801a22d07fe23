"""A rolling deploy with a real worker process: a ``taskora worker`` running version 1 of ``mail`` meets a job
dispatched by version 2 code. It runs the v1 jobs queued behind it, hands the v2 job back (never runs nor fails
it, logs it once), and a version 2 worker started later runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from taskora import Taskora

from .helpers import WorkerProcess, wait_until


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_a_v1_worker_process_leaves_a_v2_job_to_a_v2_worker(start_worker: Callable[..., WorkerProcess],
                                                             redis_url: str, pool: str) -> None:
    producers = [Taskora(redis_url), Taskora(redis_url)]
    producer_v2 = producers[0].register_task("mail", None, version=2)  # next week's code
    producer_v1 = producers[1].register_task("mail", None, version=1)
    newer = producer_v2.dispatch({"to": "ann", "subject": "v2 only"})
    older = producer_v1.dispatch({"to": "bob"})
    old_worker = start_worker("-I", "tests.cli.proj_versions", "-P", pool, "-c", "2")

    assert older.result(timeout=20) == "v1 sent bob"
    wait_until(lambda: newer.fields(["newerParks"]) == {"newerParks": "1"}, what="the v2 job handed back")
    assert newer.state() in ("delayed", "waiting")  # never active for long, never failed
    wait_until(lambda: "left for a newer worker" in old_worker.log(), what="the warning in the worker's log")

    new_app = Taskora(redis_url)
    new_app.task("mail", _v2_handler, version=2, migrate={2: lambda d: {**d, "subject": "(none)"}})
    new_app.start()
    try:
        assert newer.result(timeout=20) == "v2 sent ann: v2 only"
        log = old_worker.log()
        assert 1 <= log.count("left for a newer worker") <= 2  # once per worker process (-c 2: two under prefork)
        assert "SchemaVersionMismatchError" not in log
        assert newer.fields(["attempt"]) == {"attempt": "1"}  # read before the close: a closed app reopens
    finally:
        new_app.close()
        for producer in producers:
            producer.close()


def _v2_handler(data: dict[str, Any]) -> str:
    return f"v2 sent {data['to']}: {data['subject']}"
