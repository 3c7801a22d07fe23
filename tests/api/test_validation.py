"""Schema validation of a task's input and output, on both engines: pydantic models and TypeAdapters,
dataclasses and the schema protocol; at dispatch (nothing enqueued on error) and at the worker (the job
fails with the ValidationError, not retried)."""

from __future__ import annotations

import dataclasses
import queue
from typing import Any

import pydantic
import pytest

from taskora import ConfigurationError, JobFailedError, Taskora, ValidationError
from taskora.schemas import issue


class Order(pydantic.BaseModel):
    sku: str
    qty: int
    note: str = "none"


class Receipt(pydantic.BaseModel):
    total: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


class EvenNumber:
    """A hand-written schema following the protocol: validate() and dump()."""

    def validate(self, value: Any) -> int:
        if not isinstance(value, int) or value % 2:
            raise ValidationError("not even", [issue((), f"{value!r} is not an even integer")])
        return value

    def dump(self, value: int) -> int:
        return value


def _waiting(app: Taskora, task: str) -> int:
    return int(app.inspect().stats(task=task)["waiting"])


def test_a_bad_dispatch_lists_every_field_error_with_its_path_and_enqueues_nothing(app: Taskora) -> None:
    task = app.task("order", lambda order: order.qty, input=Order)

    with pytest.raises(ValidationError) as caught:
        task.dispatch({"sku": 5, "qty": "many"})

    assert [i["path"] for i in caught.value.issues] == [("sku",), ("qty",)]
    assert "task 'order' input: 2 validation errors" in str(caught.value)
    assert "sku: Input should be a valid string" in str(caught.value)
    assert _waiting(app, "order") == 0


def test_the_handler_receives_the_model_and_a_returned_model_is_stored_as_json(app: Taskora) -> None:
    seen: queue.Queue[Any] = queue.Queue()

    def handle(order: Order) -> Receipt:
        seen.put(order)
        return Receipt(total=order.qty * 3)

    task = app.task("order", handle, input=Order, output=Receipt)
    app.start()

    result = task.dispatch(Order(sku="a", qty=2)).result(timeout=10)

    assert seen.get(timeout=5) == Order(sku="a", qty=2, note="none")
    assert result == Receipt(total=6)  # the producer gets the output model back
    stored = app.inspect().completed(task="order")[0].result
    assert stored == {"total": 6}


def test_a_model_returned_without_output_schema_is_dumped(app: Taskora) -> None:
    task = app.task("plain", lambda n: Receipt(total=n))
    app.start()
    assert task.dispatch(4).result(timeout=10) == {"total": 4}


def test_worker_side_validation_fails_the_job_without_retry(app: Taskora) -> None:
    calls: list[Any] = []
    task = app.task("order", calls.append, input=Order, retry={"attempts": 3, "delay": 0.01})
    handle = task.dispatch({"sku": "a"}, skip_validation=True)
    app.start()

    with pytest.raises(JobFailedError, match=r"ValidationError: task 'order' input: 1 validation error: qty: Field"):
        handle.result(timeout=10)
    assert calls == []
    assert app.inspect().failed(task="order")[0].attempt == 1


def test_an_output_that_fails_its_schema_fails_the_job(app: Taskora) -> None:
    task = app.task("order", lambda order: {"total": "lots"}, input=Order, output=Receipt)
    app.start()

    with pytest.raises(JobFailedError, match="task 'order' output: 1 validation error: total: Input should be"):
        task.dispatch({"sku": "a", "qty": 1}).result(timeout=10)


def test_validate_on_dispatch_false_leaves_checking_to_the_worker(make_app: Any) -> None:
    app = make_app(validate_on_dispatch=False)
    task = app.task("order", lambda order: order.qty, input=Order)
    handle = task.dispatch({"sku": "a", "qty": "x"})  # not checked here
    assert _waiting(app, "order") == 1
    app.start()
    with pytest.raises(JobFailedError, match="qty: Input should be a valid integer"):
        handle.result(timeout=10)


def test_a_type_adapter_validates_and_converts(app: Taskora) -> None:
    task = app.task("sum", lambda numbers: sum(numbers), input=pydantic.TypeAdapter(list[int]),
                    output=pydantic.TypeAdapter(int))
    app.start()
    with pytest.raises(ValidationError) as caught:
        task.dispatch([1, "x", 3, "y"])
    assert [i["path"] for i in caught.value.issues] == [(1,), (3,)]
    assert task.dispatch(["1", 2]).result(timeout=10) == 3


def test_a_dataclass_is_a_schema(app: Taskora) -> None:
    task = app.task("norm", lambda p: Point(x=p.y, y=p.x), input=Point, output=Point)
    app.start()
    with pytest.raises(ValidationError) as caught:
        task.dispatch({"x": "1", "z": 2})
    assert sorted(i["path"] for i in caught.value.issues) == [("x",), ("y",), ("z",)]
    assert task.dispatch(Point(1, 2)).result(timeout=10) == Point(x=2, y=1)


def test_a_protocol_schema(app: Taskora) -> None:
    task = app.task("half", lambda n: n // 2, input=EvenNumber())
    app.start()
    with pytest.raises(ValidationError, match="<root>: 3 is not an even integer"):
        task.dispatch(3)
    assert task.dispatch(8).result(timeout=10) == 4


@pytest.mark.parametrize("bad", [int, "Order", 42, {"sku": str}])
def test_a_schema_that_is_not_a_schema_fails_at_declaration_naming_the_task(app: Taskora, bad: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"task 'order': input: .* is not a schema"):
        app.task("order", lambda d: d, input=bad)
    assert "order" not in app.tasks


def test_a_direct_call_validates_the_input_like_a_worker(app: Taskora) -> None:
    task = app.task("order", lambda order: (type(order).__name__, order.qty), input=Order)
    assert task({"sku": "a", "qty": "2"}) == ("Order", 2)
    with pytest.raises(ValidationError, match="qty: Field required"):
        task({"sku": "a"})


def test_a_model_dispatched_to_a_task_without_schema_is_stored_as_json(app: Taskora) -> None:
    task = app.task("plain", lambda data: data)
    handle = task.dispatch(Order(sku="a", qty=1))
    assert app.inspect().find(handle.id).data == {"sku": "a", "qty": 1, "note": "none"}


def test_taskora_validates_without_pydantic_installed(tmp_path: Any) -> None:
    """pydantic is an optional extra: with it unimportable, a dataclass schema still validates end to end."""
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "nopydantic.py"
    script.write_text(textwrap.dedent("""
        import dataclasses, sys
        sys.modules["pydantic"] = None  # import pydantic -> ImportError
        from taskora import Taskora, ValidationError

        @dataclasses.dataclass
        class Point:
            x: int

        app = Taskora()
        task = app.task("p", lambda p: p.x * 2, input=Point)
        try:
            task.dispatch({"x": "no"})
        except ValidationError as error:
            print(error)
        app.start()
        print(task.dispatch({"x": 4}).result(timeout=10))
        app.close()
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["task 'p' input: 1 validation error: x: expected int, got str", "8"]


def test_a_protocol_schema_raising_value_error_reports_it_as_one_issue(app: Taskora) -> None:
    class Integer:  # the shape of a msgspec/attrs adapter: their errors are ValueError/TypeError subclasses
        def validate(self, value: Any) -> int:
            return int(value)

    task = app.task("int", lambda n: n, input=Integer())
    with pytest.raises(ValidationError, match=r"<root>: ValueError: invalid literal for int\(\) with base 10: 'x'"):
        task.dispatch("x")
    assert app.inspect().find(task.dispatch("7").id).data == 7  # the converted value is what is stored
