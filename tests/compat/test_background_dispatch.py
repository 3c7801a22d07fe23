"""``taskora_background_dispatch``: a Celery project's ``delay()`` returns before Redis has the job
(taskora/background.py), and a real ``taskora worker -A`` still runs every job once."""

from __future__ import annotations

import os
import subprocess
import sys

from taskora.compat import Celery

from .celery_helpers import CeleryWorker, make_celery  # noqa: F401 - fixture

PROJECT = """
import os
from taskora.compat import Celery

app = Celery("bgproj", broker=os.environ["REDIS_URL"], backend=os.environ["REDIS_URL"])
app.conf.taskora_background_dispatch = True


@app.task(name="bgproj.add")
def add(x, y):
    return x + y


@app.task(name="bgproj.fan_out")
def fan_out(n):
    return [add.delay(i, i).id for i in range(n)]  # in a worker: each delay() waits for Redis
"""

PRODUCER = "import bgproj; print(' '.join(bgproj.add.delay(i, i).id for i in range(300)))"


def test_a_producer_exiting_right_after_its_delays_loses_none_and_the_worker_runs_each(tmp_path, redis_url) -> None:
    (tmp_path / "bgproj.py").write_text(PROJECT)
    env = dict(os.environ, REDIS_URL=redis_url, PYTHONPATH=str(tmp_path))
    sent = subprocess.run([sys.executable, "-c", PRODUCER], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=True, timeout=60).stdout.split()  # no flush, no close: the exit flush writes them

    client = Celery("bgproj", broker=redis_url, backend=redis_url)
    worker = CeleryWorker(tmp_path, "bgproj", redis_url, "bg@test", "-P", "threads", "-c", "4")
    try:
        worker.wait_ready(client)
        assert [client.AsyncResult(task_id).get(timeout=30) for task_id in sent] == [i + i for i in range(300)]
        children = client.send_task("bgproj.fan_out", (50,)).get(timeout=30)
        assert [client.AsyncResult(task_id).get(timeout=30) for task_id in children] == [i + i for i in range(50)]
    finally:
        worker.stop()
        client.close()


def test_the_setting_applies_at_the_next_delay_and_a_result_waits_as_pending(make_celery) -> None:  # noqa: F811 - the fixture
    app = make_celery()

    @app.task(name="bg.echo")
    def echo(x):
        return x

    native = app.__taskora_app__
    assert native.background_sender() is None
    app.conf.taskora_background_dispatch = True
    result = echo.delay(1)
    assert native.background_sender() is not None
    assert result.state == "PENDING"  # on its way or stored: waiting either way
    native.flush(timeout=10)
    assert native.adapter.counts("bg.echo")["waiting"] == 1
