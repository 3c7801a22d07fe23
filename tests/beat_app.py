"""The app the beat process tests run with ``python -m taskora beat -A tests.beat_app``.

Redis comes from ``TASKORA_TEST_REDIS``; the leader lock ttl (seconds) from ``TASKORA_TEST_LOCK_TTL``.
Nothing consumes the jobs: each run stays waiting, so the test counts runs by their job hashes.
"""

from __future__ import annotations

import os

from taskora import Taskora

app = Taskora(
    os.environ.get("TASKORA_TEST_REDIS", "redis://127.0.0.1:6379/0"),
    scheduler={"poll_interval": 0.2, "lock_ttl": float(os.environ.get("TASKORA_TEST_LOCK_TTL", "2"))},
)


@app.task("beat-tick", schedule={"every": 1, "overlap": True})
def beat_tick(data: object) -> None:
    return None


@app.task("beat-report")
def beat_report(data: object) -> object:
    return data


app.schedule("hourly-report", task="beat-report", cron="0 * * * *", timezone="Europe/Berlin", data={"kind": "hourly"})
