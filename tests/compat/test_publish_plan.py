# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A call without options reuses what the task's first such call worked out (compat/app/_publish_plan.py), and
writes the job that working it out again would write; a change of the task, the settings or the routing is
seen at the next call."""

from __future__ import annotations

from typing import Any

import pytest
from taskora.compat import Celery

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


def _job(app: Celery, result: Any) -> dict[str, str]:
    """The job hash of ``result``, as text, without the fields that differ from one job to the next."""
    job = app.__taskora_app__.adapter.get_job(result._engine_task, result.id)
    assert job is not None
    text = {_text(k): _text(v) for k, v in job.items()}
    return {k: v.replace(result.id, "<id>") for k, v in text.items() if k not in ("ts", "createdAt")}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _plan(task: Any) -> Any:
    return task.__dict__.get("_publish_plan")


def test_a_second_call_reuses_the_first_calls_plan_and_writes_the_same_job(make_celery: Any) -> None:
    app = make_celery()

    @app.task(name="plan.add", queue="side", priority=3, time_limit=30, soft_time_limit=10)
    def add(x: int, y: int) -> int:
        return x + y

    first = add.delay(1, 2)
    plan = _plan(add)
    second = add.delay(1, 2)
    assert plan is not None and _plan(add) is plan
    assert _job(app, second) == _job(app, first)


@pytest.mark.parametrize("attributes", [
    {}, {"queue": "side"}, {"priority": 7}, {"expires": 600}, {"ignore_result": True}, {"time_limit": 9},
    {"routing_key": "bound.key", "exchange": "bound"}, {"soft_time_limit": 2, "time_limit": 4},
])  # fmt: skip
def test_the_planned_call_writes_the_job_a_routed_call_writes(make_celery: Any, attributes: dict[str, Any]) -> None:
    """``retries=0`` changes nothing but takes the path that routes the call as it comes."""
    app = make_celery(task_routes={"plan.*": {"priority": 5}},
                      task_queues={"bound": {"exchange": "bound", "routing_key": "bound.key"}})

    @app.task(name="plan.task", **attributes)
    def planned(x: int) -> int:
        return x

    planned.delay(0)  # the plan is made
    assert _plan(planned) is not None
    fast, routed = planned.delay(1), planned.apply_async((1,), retries=0)
    assert fast._engine_task == routed._engine_task
    fast_job, routed_job = _job(app, fast), _job(app, routed)
    if "expires" in attributes:  # a time from now, to the microsecond
        assert fast_job.pop("celery.expires")[:16] == routed_job.pop("celery.expires")[:16]
        fast_job.pop("expireAt"), routed_job.pop("expireAt")
    assert fast_job == routed_job


def test_a_changed_task_attribute_is_seen_at_the_next_call(make_celery: Any) -> None:
    app = make_celery()

    @app.task(name="plan.moves")
    def moves() -> None:
        return None

    assert moves.delay()._engine_task == "plan.moves"
    moves.queue = "elsewhere"
    moved = moves.delay()
    assert app.__taskora_app__.tasks[moved._engine_task].options.queue == "elsewhere"
    assert "celery.queue" not in _job(app, moved)  # implied by the per-queue twin it lives under


def test_a_changed_setting_is_seen_at_the_next_call(make_celery: Any) -> None:
    app = make_celery()

    @app.task(name="plan.prio")
    def prio() -> None:
        return None

    assert "celery.priority" not in _job(app, prio.delay())
    app.conf.task_default_priority = 4
    assert _job(app, prio.delay())["celery.priority"] == "4"


def test_a_router_function_is_asked_at_every_call(make_celery: Any) -> None:
    """A router function may route by the arguments: nothing is kept, each call is routed as it comes."""
    asked: list[tuple[Any, ...]] = []

    def by_size(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict[str, str]:
        if args:  # a worker's setup asks without arguments
            asked.append(tuple(args))
        return {"queue": "big" if args and args[0] > 10 else "small"}

    app = make_celery(task_routes=[by_size])

    @app.task(name="plan.sized")
    def sized(n: int) -> int:
        return n

    small, big = sized.delay(1), sized.delay(100)
    assert asked == [(1,), (100,)] and _plan(sized) is None
    native = app.__taskora_app__
    assert [native.tasks[r._engine_task].options.queue for r in (small, big)] == ["small", "big"]


def test_the_attributes_a_plan_compares_are_the_publish_defaults_in_order(make_celery: Any) -> None:
    from taskora.compat.app._publish_plan import TASK_PUBLISH_DEFAULTS, publish_attributes

    app = make_celery()
    values = {attr: f"v-{attr}" for attr in TASK_PUBLISH_DEFAULTS}

    @app.task(name="plan.attrs")
    def attrs() -> None:
        return None

    assert publish_attributes(attrs)[0] is None  # a task has no queue unless given one
    for attr, value in values.items():
        setattr(attrs, attr, value)
    assert publish_attributes(attrs) == tuple(values.values())


def test_a_receiver_connected_after_the_plan_hears_the_next_call(make_celery: Any) -> None:
    from taskora.compat.signals import before_task_publish

    app = make_celery()
    heard: list[Any] = []

    @app.task(name="plan.heard")
    def heard_task(x: int) -> int:
        return x

    heard_task.delay(0)
    assert _plan(heard_task) is not None

    def receiver(sender: Any = None, headers: Any = None, **kwargs: Any) -> None:
        heard.append((sender, headers["id"]))
        headers["x-added"] = "yes"

    before_task_publish.connect(receiver)
    try:
        result = heard_task.delay(1)
    finally:
        before_task_publish.disconnect(receiver)
    assert heard == [("plan.heard", result.id)]
    assert '"x-added": "yes"' in _job(app, result)["celery.headers"].replace('":"', '": "')


def test_a_batch_of_planned_calls_writes_each_job(make_celery: Any) -> None:
    app = make_celery()

    @app.task(name="plan.batched")
    def batched(x: int) -> int:
        return x

    batched.delay(0)
    with app.producer_or_acquire() as producer, producer.batch():
        results = [batched.apply_async((i,), producer=producer) for i in range(3)]
    assert [_job(app, r)["data"] for r in results] == ['{"args":[0]}', '{"args":[1]}', '{"args":[2]}']


def test_a_closed_app_keeps_no_plan_holding_its_old_native_app(make_celery: Any) -> None:
    """An app kept after its close must not keep its native app (and its connections) alive through a plan:
    Celery's test_backend_leak_in_fixture_teardown keeps 20 closed test apps and expects their backends'
    sockets to be collected; a plan kept on each task held them all open."""
    import gc
    import weakref

    app = make_celery()

    @app.task(name="plan.kept")
    def kept() -> int:
        return 1

    kept.delay()
    old_native = weakref.ref(app.__taskora_app__)
    assert _plan(kept) is not None
    app.close()
    gc.collect()
    assert _plan(kept) is None and old_native() is None
