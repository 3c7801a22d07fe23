"""The shop's tasks on taskora_runner: in memory, on a virtual clock, no Redis, no waiting."""

import pytest

from shop.tasks import app, charge, checkout, place_order

T0 = 1_700_000_000_000


def test_taskora_app_is_the_shops_app(taskora_app):
    assert taskora_app is app


def test_a_flaky_charge_is_retried_through_its_backoff(taskora_runner):
    started = taskora_runner.clock.now_ms()

    outcome = taskora_runner.execute(charge, {"id": 1, "amount": 30, "flaky": True})

    assert (outcome.state, outcome.attempts) == ("completed", 3)
    assert outcome.result == {"order": 1, "charged": 30}
    assert [entry["message"] for entry in outcome.logs] == ["charged"]
    assert taskora_runner.clock.now_ms() - started == 60_000  # two 30 s backoffs, no real time


def test_run_calls_the_handler_directly(taskora_runner):
    assert taskora_runner.run(charge, {"id": 2, "amount": 5, "flaky": True}) == {"order": 2, "charged": 5}
    assert taskora_runner.jobs == []


def test_placing_an_order_sends_its_receipt(taskora_runner):
    outcome = taskora_runner.execute(place_order, {"id": 3})

    receipt = taskora_runner.app.handle("send-receipt", outcome.result)
    assert receipt.result(timeout=0) == "receipt for order 3"


def test_checkout_runs_both_steps(taskora_runner):
    flow = checkout({"id": 4, "amount": 12})
    taskora_runner.process_all()

    assert flow.result(timeout=5) == "receipt for order 4"
    assert [(step.task_name, step.state) for step in taskora_runner.steps] == [
        ("charge", "completed"), ("send-receipt", "completed")]


@pytest.mark.taskora(start_ms=T0)
def test_reconcile_runs_every_ten_minutes(taskora_runner):
    taskora_runner.advance_time("1h")

    runs = sorted(int(job["scheduledAt"]) for job in taskora_runner.jobs_of("reconcile"))
    assert runs == [T0 + n * 600_000 for n in range(1, 7)]
