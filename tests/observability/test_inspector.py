"""The inspector and the dead-letter queue, on both engines."""

from __future__ import annotations

import pytest

from taskora import JobFailedError, Taskora


def test_stats_lists_and_find(app: Taskora) -> None:
    ok = app.task("ok", lambda data: data * 2)
    later = ok.dispatch(1, delay="1h")
    waiting = ok.dispatch(2)
    inspector = app.inspect()

    assert inspector.stats()["delayed"] == 1 and inspector.stats(task="ok")["waiting"] == 1
    assert [j.id for j in inspector.delayed()] == [later.id]
    app.start()
    assert waiting.result(timeout=10) == 4

    info = inspector.find(waiting.id)
    assert info is not None and info.task == "ok" and info.state == "completed"
    assert info.data == 2 and info.result == 4 and info.attempt == 1
    assert [name for name, _ in info.timeline] == ["dispatched", "started", "finished"]
    assert inspector.find("no-such-id") is None
    with pytest.raises(KeyError, match="nope"):
        inspector.stats(task="nope")


def test_dead_letters_list_and_retry(app: Taskora) -> None:
    fixed = {"value": False}

    def fragile(data):
        if not fixed["value"]:
            raise RuntimeError("dependency down")
        return "recovered"

    task = app.task("fragile", fragile)
    app.start()
    handles = [task.dispatch(i) for i in range(3)]
    for handle in handles:
        with pytest.raises(JobFailedError):
            handle.result(timeout=10)

    failed = app.dead_letters.list(task="fragile")
    assert sorted(j.id for j in failed) == sorted(h.id for h in handles)
    assert all(j.error == "dependency down" for j in failed)

    fixed["value"] = True
    assert app.dead_letters.retry(handles[0].id) is True
    assert handles[0].result(timeout=10) == "recovered"
    assert app.dead_letters.retry(handles[0].id) is False  # completed now, nothing to retry
    assert app.dead_letters.retry_all() == 2
    assert [h.result(timeout=10) for h in handles[1:]] == ["recovered", "recovered"]
    assert app.inspect().stats()["failed"] == 0
