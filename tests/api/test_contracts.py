"""Task contracts on both engines: a producer app that only ``register``s a contract dispatches to, and
awaits typed results from, a worker app that ``implement``s it; contracts compose into workflows; bad
contracts and double implementations fail naming the task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from taskora import ConfigurationError, Taskora, ValidationError, chain, define_task, group, static_contract


class Resize(pydantic.BaseModel):
    url: str
    width: int


class Resized(pydantic.BaseModel):
    key: str
    width: int


resize = define_task("resize", input=Resize, output=Resized, retry={"attempts": 3, "delay": 0.01}, timeout="30s")


def _resize(request: Resize) -> Resized:
    return Resized(key=f"{request.url}@{request.width}", width=request.width)


def _split(make_app: Callable[..., Taskora]) -> tuple[Taskora, Taskora]:
    """A producer app and a worker app on one store, as two services would be."""
    return make_app(), make_app()


def test_a_producer_dispatches_a_contract_and_gets_the_typed_result(make_app: Callable[..., Taskora]) -> None:
    producer, worker = _split(make_app)
    task = producer.register(resize)
    worker.implement(resize, _resize)
    worker.start()

    assert task.handler is None
    assert task.dispatch({"url": "a.png", "width": 300}).result(timeout=10) == Resized(key="a.png@300", width=300)


def test_the_contract_s_schema_is_checked_at_the_producer(make_app: Callable[..., Taskora]) -> None:
    producer = make_app()
    task = producer.register(resize)
    with pytest.raises(ValidationError, match="url: Field required; width: Input should be a valid integer"):
        task.dispatch({"width": "wide"})
    assert producer.inspect().stats(task="resize")["waiting"] == 0


def test_contract_defaults_become_task_options(app: Taskora) -> None:
    task = app.implement(resize, _resize, concurrency=4)
    assert (task.options.retry.attempts, task.options.timeout, task.options.concurrency) == (3, 30.0, 4)


def test_register_is_idempotent_and_implement_upgrades_the_registered_task_in_place(app: Taskora) -> None:
    registered = app.register(resize)
    assert app.register(resize) is registered

    implemented = app.implement(resize, _resize)

    assert implemented is registered and registered.handler is _resize
    app.start()
    assert registered.dispatch(Resize(url="b", width=1)).result(timeout=10).key == "b@1"


def test_implement_twice_is_an_error_naming_the_task(app: Taskora) -> None:
    app.implement(resize, _resize)
    with pytest.raises(ConfigurationError, match="task 'resize' is already implemented"):
        app.implement(resize, _resize)


def test_implement_as_a_decorator(app: Taskora) -> None:
    @app.implement(resize)
    def handler(request: Resize) -> Resized:
        return Resized(key="d", width=request.width)

    app.start()
    assert app.tasks["resize"].dispatch({"url": "x", "width": 2}).result(timeout=10) == Resized(key="d", width=2)


def test_contracts_compose_into_workflows_from_a_producer(make_app: Callable[..., Taskora]) -> None:
    thumb = define_task("thumb", input=Resized, output=pydantic.TypeAdapter(str))
    producer, worker = _split(make_app)
    p_resize, p_thumb = producer.register(resize), producer.register(thumb)
    worker.implement(resize, _resize)
    worker.implement(thumb, lambda r: f"thumb:{r.key}")
    worker.start()

    assert chain(p_resize.s({"url": "c", "width": 64}), p_thumb.s()).dispatch().result(timeout=10) == "thumb:c@64"
    fanned = group(p_resize.s(Resize(url="g", width=w)) for w in (1, 2)).dispatch().result(timeout=10)
    assert fanned == [Resized(key="g@1", width=1), Resized(key="g@2", width=2)]  # typed like a dispatch


def test_a_workflow_step_with_bad_bound_data_fails_before_anything_is_written(app: Taskora) -> None:
    task = app.register(resize)
    with pytest.raises(ValidationError, match="task 'resize' input"):
        chain(task.s({"url": "c"}), task.s()).dispatch()
    assert app.inspect().stats(task="resize")["waiting"] == 0


def test_a_static_contract_has_no_schema_and_the_worker_may_add_one(make_app: Callable[..., Taskora]) -> None:
    ping = static_contract("ping", retry=2)
    producer, worker = _split(make_app)
    task = producer.register(ping)
    worker.implement(ping, lambda r: r.width * 2, input=Resize)
    worker.start()

    handle = task.dispatch({"url": "u", "width": "x"})  # nothing to check here: the worker's schema will
    assert task.dispatch({"url": "u", "width": 4}).result(timeout=10) == 8
    with pytest.raises(Exception, match="width: Input should be a valid integer"):
        handle.result(timeout=10)


def test_a_contract_with_a_schema_refuses_a_worker_side_schema(app: Taskora) -> None:
    with pytest.raises(ConfigurationError, match="the contract already has an input schema"):
        app.implement(resize, _resize, input=Resized)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: define_task("resize", input=dict), r"task 'resize': input: <class 'dict'> is not a schema"),
    (lambda: define_task("resize", output="Resized"), r"task 'resize': output: 'Resized' is not a schema"),
    (lambda: define_task("{bad}"), "name must be a non-empty string without braces"),
])  # fmt: skip
def test_a_bad_contract_fails_where_it_is_defined(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        call()


def test_register_and_implement_take_only_contracts(app: Taskora) -> None:
    with pytest.raises(ConfigurationError, match="register: expected a contract"):
        app.register("resize")
    with pytest.raises(ConfigurationError, match="implement: expected a contract"):
        app.implement(_resize, _resize)
