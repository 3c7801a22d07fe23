"""A worker's control loop survives what custom control commands do wrong (Celery's
``test_pidbox_reset_after_repeated_control_errors``): a command that raises answers an error reply and is
logged; one whose reply cannot be encoded answers an error reply too; after either, again and again, the
worker still answers ``ping`` and runs tasks.

Redis only: the control channel is pub/sub between processes.
"""

from __future__ import annotations

import pytest

from .celery_helpers import control_worker

PROJECT = '''
    import os

    from taskora.compat import Celery
    from taskora.compat.worker.control import control_command

    app = Celery("resilient_proj", broker=os.environ["REDIS_URL"])


    @app.task
    def add(x, y):
        return x + y


    @control_command(visible=False)
    def always_raises(state, **kwargs):
        raise RuntimeError("pidbox reset on purpose")


    @control_command(visible=False)
    def circular_reply(state, **kwargs):
        reply = {"node": state.hostname}
        reply["self"] = reply  # no encoder can write this
        return reply
'''


@pytest.fixture(params=["threads", "prefork"])
def worker_and_client(request, tmp_path, redis_url):
    with control_worker(tmp_path, "resilient_proj", PROJECT, redis_url, "-P", request.param, "-c", "1",
                        "-l", "info") as worker_and_client:
        yield worker_and_client


def _assert_alive(worker, client):
    assert client.control.inspect(destination=[worker.hostname], timeout=5).ping() == {worker.hostname: {"ok": "pong"}}


def test_commands_that_raise_or_reply_garbage_never_stop_the_control_loop(worker_and_client):
    worker, client = worker_and_client
    _assert_alive(worker, client)
    for _ in range(5):
        client.control.broadcast("always_raises", reply=False)
        client.control.broadcast("circular_reply", reply=False)
    _assert_alive(worker, client)
    [raised] = client.control.broadcast("always_raises", reply=True, timeout=5, destination=[worker.hostname])
    assert "RuntimeError: pidbox reset on purpose" in raised[worker.hostname]["error"]
    [garbage] = client.control.broadcast("circular_reply", reply=True, timeout=5, destination=[worker.hostname])
    assert "the reply of 'circular_reply' cannot be encoded as JSON" in garbage[worker.hostname]["error"]
    assert client.send_task("resilient_proj.add", (4, 4)).get(timeout=10) == 8
    _assert_alive(worker, client)
    assert "control request" in worker.log() and "pidbox reset on purpose" in worker.log()
