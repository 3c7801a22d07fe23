"""Registering a task on an app that has event listeners makes the event reader watch the task's stream.
That happens at import time (``@app.task``, a Celery ``@shared_task`` registering on every live app), so an
unreachable Redis must not make it raise: the import of an unrelated module failed half-way before, and its
shared tasks were registered again, twice, by the next import. The reader finds the stream's end once Redis
answers, and the listeners get the events written from then on."""

from __future__ import annotations

import queue

from taskora import Taskora
from taskora.events import Event
from taskora.redis import redis_adapter
from tests.redis_server import RedisServer


def test_a_task_registered_while_redis_is_down_is_listened_to_once_it_is_back() -> None:
    server = RedisServer().start()
    app = Taskora(redis_adapter(server.url))
    completed: queue.Queue[Event] = queue.Queue()
    try:
        before = app.task("before", lambda n: n + 1)
        app.on("task:completed", completed.put)  # the reader now watches "before"
        server.stop()
        late = app.task("late", lambda n: n * 2)  # raised redis.ConnectionError here before
        server.restart()
        app.start()
        before.dispatch(1)
        # The reader finds where "late"'s stream ends before each read, so once it has read "before"'s event...
        assert (completed.get(timeout=10).task, completed.qsize()) == ("before", 0)
        assert late.dispatch(21).result(timeout=10) == 42
        event = completed.get(timeout=10)  # ...it reads "late"'s too
        assert (event.task, event.result) == ("late", 42)
    finally:
        app.close(timeout=5)
        server.stop()
