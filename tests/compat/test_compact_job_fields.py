# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A front job leaves out the ``celery.*`` fields its engine task and id already say (issue #22: bytes per job),
and every reader gives them back as the call sent them (compat/app/_publish_compact.py): the result, the
worker's request, ``inspect``. Fields that say something else are still written."""

from __future__ import annotations

from typing import Any

import pytest
from taskora.compat import Celery
from taskora.compat.result import AsyncResult

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")

#: What ``publish`` leaves out of a plain call (its root, name, queue and default ignore_result).
IMPLIED = ("celery.root_id", "celery.task", "celery.queue", "celery.ignore_result")


def _fields(app: Any, engine_task: str, job_id: str) -> dict[str, str]:
    job = app.__taskora_app__.adapter.get_job(engine_task, job_id)
    assert job is not None
    return {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
            for k, v in job.items()}


seen_ignore_result: list[bool] = []


@pytest.fixture
def app(make_celery: Any) -> Any:
    seen_ignore_result.clear()
    celery = make_celery()

    @celery.task(name="cmp.add")
    def add(x: int, y: int) -> int:
        return x + y

    @celery.task(name="cmp.elsewhere", queue="side")
    def elsewhere() -> None:
        return None

    @celery.task(bind=True, name="cmp.request")
    def request_of(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        req = self.request
        return {"id": req.id, "root_id": req.root_id, "parent_id": req.parent_id, "task": req.task,
                "args": req.args, "kwargs": req.kwargs, "routing_key": req.delivery_info["routing_key"],
                "properties_key": req.properties["delivery_info"]["routing_key"], "origin": req.origin,
                "ignore_result": req.ignore_result}  # fmt: skip

    @celery.task(bind=True, name="cmp.quiet", ignore_result=True)
    def quiet(self: Any) -> None:
        seen_ignore_result.append(self.request.ignore_result)

    @celery.task(bind=True, name="cmp.parent")
    def parent(self: Any) -> str:
        return str(request_of.delay().id)

    return celery


def test_a_plain_call_writes_none_of_the_fields_its_job_implies(app: Celery) -> None:
    result = app.tasks["cmp.add"].delay(1, 2)
    fields = _fields(app, "cmp.add", result.id)
    assert [name for name in IMPLIED if name in fields] == []
    assert fields["data"] == '{"args":[1,2]}'  # no empty kwargs
    assert fields["celery.origin"].startswith("gen")
    assert "maxAttempts" not in fields  # Task.retry bounds a Celery task's runs: the engine holds no bound


def test_a_reader_that_never_saw_the_call_reads_the_left_out_fields_back(app: Celery) -> None:
    sent = app.tasks["cmp.add"].delay(1, 2)
    fresh = AsyncResult(sent.id, app=app)  # no task name: found by id, as a client would
    assert (fresh.name, fresh.queue, fresh.args, fresh.kwargs) == ("cmp.add", "celery", [1, 2], {})


def test_a_call_to_another_queue_reads_back_its_queue_and_name(app: Celery) -> None:
    twin = app.tasks["cmp.add"].apply_async((1, 2), queue="other")  # engine task other::cmp.add
    assert (AsyncResult(twin.id, app=app).name, AsyncResult(twin.id, app=app).queue) == ("cmp.add", "other")
    home = app.tasks["cmp.elsewhere"].delay()  # its own queue, not Celery's default one: written
    assert _fields(app, "cmp.elsewhere", home.id)["celery.queue"] == "side"
    assert AsyncResult(home.id, app=app).queue == "side"


def test_fields_that_differ_from_the_implied_ones_are_written(app: Celery) -> None:
    result = app.tasks["cmp.add"].apply_async((1,), {"y": 2}, ignore_result=False, root_id="r-1")
    fields = _fields(app, "cmp.add", result.id)
    assert (fields["celery.root_id"], fields["celery.ignore_result"]) == ("r-1", "False")
    assert fields["data"] == '{"args":[1],"kwargs":{"y":2}}'


def test_a_job_the_front_did_not_publish_has_no_celery_name_or_queue(app: Celery) -> None:
    native = app.__taskora_app__.tasks["cmp.add"].dispatch({"args": [1, 2]})
    result = AsyncResult(native.id, app=app)
    assert (result.name, result.queue, result.kwargs) == (None, None, {})


def test_the_worker_request_reads_the_left_out_fields_as_celery_sends_them(app: Celery) -> None:
    app.__taskora_app__.start(concurrency=1)
    sent = app.tasks["cmp.request"].delay(7)
    assert _fields(app, "cmp.request", sent.id).keys().isdisjoint(IMPLIED)
    seen = sent.get(timeout=10)
    assert seen == {"id": sent.id, "root_id": sent.id, "parent_id": None, "task": "cmp.request", "args": [7],
                    "kwargs": {}, "routing_key": "celery", "properties_key": "celery", "origin": seen["origin"],
                    "ignore_result": False}  # fmt: skip
    assert seen["origin"].startswith("gen")


def test_a_call_made_by_a_task_keeps_its_root_and_parent(app: Celery) -> None:
    app.__taskora_app__.start(concurrency=1)
    parent = app.tasks["cmp.parent"].delay()
    child_id = parent.get(timeout=10)
    child = AsyncResult(child_id, app=app)
    seen = child.get(timeout=10)
    assert (seen["root_id"], seen["parent_id"]) == (parent.id, parent.id)
    assert _fields(app, "cmp.request", child_id)["celery.root_id"] == parent.id


def test_a_task_that_ignores_results_leaves_the_field_out_and_its_request_still_says_so(app: Celery) -> None:
    sent = app.tasks["cmp.quiet"].delay()
    assert "celery.ignore_result" not in _fields(app, "cmp.quiet", sent.id)
    kept = app.tasks["cmp.quiet"].apply_async(ignore_result=False)  # the call's own: written
    assert _fields(app, "cmp.quiet", kept.id)["celery.ignore_result"] == "False"
    app.__taskora_app__.start(concurrency=1)
    assert kept.get(timeout=10) is None
    assert seen_ignore_result == [True, False]  # as Celery's message carries it: the task's, then the call's
    assert app.__taskora_app__.adapter.get_job("cmp.quiet", sent.id) is None  # its result was not kept
