"""The shop's tasks on a real `taskora worker` process and a real Redis (skipped when there is none)."""

import pytest

from shop.tasks import charge, checkout

pytestmark = pytest.mark.taskora_redis


def test_a_real_worker_charges(taskora_worker):
    handle = charge.dispatch({"id": 5, "amount": 40})

    assert handle.result(timeout=15) == {"order": 5, "charged": 40}


@pytest.mark.taskora(worker_args=["-c", "1"])
def test_checkout_on_a_real_worker(taskora_worker):
    assert checkout({"id": 6, "amount": 9}).result(timeout=15) == "receipt for order 6"
    assert taskora_worker.process.poll() is None  # still running
