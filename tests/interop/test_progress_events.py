"""Progress events on the wire: TypeScript taskora writes the value in field ``value`` (recording
09-progress-logs.json); we write the same, and still read the ``progress`` field older Python
versions wrote."""

from __future__ import annotations

import json
import queue

from taskora import Taskora


def _progress_entries(app: Taskora, task: str) -> list[dict[str, str]]:
    entries = app.adapter.client.xrange(app.adapter.keys.events(task))
    fields = [{k.decode(): v.decode() for k, v in raw.items()} for _id, raw in entries]
    return [f for f in fields if f["event"] == "progress"]


def test_a_progress_event_carries_its_value_in_field_value(app: Taskora) -> None:
    def work(data, ctx):
        ctx.progress(50)
        ctx.progress({"done": 2})
        return "ok"

    app.task("work", work)
    app.start()
    handle = app.tasks["work"].dispatch(None)
    assert handle.result(timeout=10) == "ok"

    entries = _progress_entries(app, "work")
    assert [sorted(e) for e in entries] == [["event", "jobId", "value"]] * 2
    assert [json.loads(e["value"]) for e in entries] == [50, {"done": 2}]


def test_listeners_read_typescript_and_older_python_progress_events(app: Taskora) -> None:
    got: queue.Queue = queue.Queue()
    task = app.task("work", lambda data: data)
    task.on("progress", lambda e: got.put((e.id, e.progress)))
    stream = app.adapter.keys.events("work")

    app.adapter.client.xadd(stream, {"event": "progress", "jobId": "ts-job", "value": '{"pct":40}'})
    app.adapter.client.xadd(stream, {"event": "progress", "jobId": "old-py-job", "progress": "7"})

    assert got.get(timeout=5) == ("ts-job", {"pct": 40})
    assert got.get(timeout=5) == ("old-py-job", 7)
