"""TestRunner.run applies a task's contract as dispatch and a worker would: the input validated (and a model
instance accepted) at the call, the payload stamped with the task's version (so no migration is replayed on
current data), and the output validated."""

from __future__ import annotations

from collections.abc import Iterator

import pydantic
import pytest

from taskora.errors import ValidationError
from taskora.testing import TestRunner


class Order(pydantic.BaseModel):
    id: int
    amount: float


class Receipt(pydantic.BaseModel):
    order: int


@pytest.fixture
def runner() -> Iterator[TestRunner]:
    made = TestRunner()
    yield made
    made.dispose()


def test_bad_input_is_refused_at_the_call_naming_every_field(runner: TestRunner) -> None:
    calls: list[Order] = []
    charge = runner.task("charge", lambda order: calls.append(order), input=Order, retry={"attempts": 3})
    with pytest.raises(ValidationError, match="task 'charge' input: 2 validation errors: id: .*; amount: Field"):
        runner.run(charge, {"id": "x"})
    assert calls == []


def test_a_model_instance_is_accepted_and_the_handler_gets_the_model(runner: TestRunner) -> None:
    charge = runner.task("charge", lambda order: Receipt(order=order.id), input=Order, output=Receipt)
    assert runner.run(charge, Order(id=7, amount=1.5)) == {"order": 7}
    assert runner.run(charge, {"id": 8, "amount": 2}) == {"order": 8}


def test_bad_output_fails_the_run_with_the_output_error(runner: TestRunner) -> None:
    charge = runner.task("charge", lambda order: {"order": "not a number"}, input=Order, output=Receipt)
    with pytest.raises(ValidationError, match="task 'charge' output"):
        runner.run(charge, {"id": 1, "amount": 1})


def test_current_data_is_stamped_with_the_task_version_and_not_migrated(runner: TestRunner) -> None:
    """Data passed to run() is at the task's version, as dispatch stamps it: the v1->v2 step must not run."""
    seen: list[dict] = []
    runner.task("ship", seen.append, version=2, migrate={2: lambda d: {**d, "migrated": True}})
    runner.run("ship", {"to": "Lyon"})
    assert seen == [{"to": "Lyon"}]


def test_skip_validation_passes_bad_input_to_the_worker_side_check(runner: TestRunner) -> None:
    calls: list[Order] = []
    charge = runner.task("charge", calls.append, input=Order)
    with pytest.raises(ValidationError, match="task 'charge' input"):  # the worker side still validates
        runner.run(charge, {"id": "x"}, skip_validation=True)
    assert calls == []
