"""examples/contracts: the worker service runs as a real ``taskora worker`` subprocess on Redis, the producer
service runs here, and the two share only ``billing_contracts``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskora import JobFailedError, ValidationError
from tests.paths import ROOT
from tests.processes import kill_process_group
from tests.waiting import wait_until

pytestmark = pytest.mark.redis_only

EXAMPLE = ROOT / "examples" / "contracts"
INVOICE = {"order_id": "o-1", "lines": [{"sku": "pen", "qty": 2, "unit_cents": 150},
                                        {"sku": "ink", "qty": 1, "unit_cents": 400}]}


@pytest.fixture
def billing(redis_url: str, tmp_path: Path) -> Iterator[Any]:
    """The producer (imported here) and a ``taskora worker -A worker_service`` process (killed at the end)."""
    sys.path.insert(0, str(EXAMPLE))
    from producer_service import Billing

    producer = Billing(redis_url)
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
    env = dict(os.environ, REDIS_URL=redis_url, PYTHONUNBUFFERED="1")
    worker = subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A", "worker_service", "-l", "info",
                               "-n", "billing@test"], cwd=EXAMPLE, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip

    def ready() -> bool:
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        return "billing@test" in producer.app.broadcast("ping", timeout=0.3)

    try:
        wait_until(ready, 30, "the billing worker to answer ping")
        yield producer
    finally:
        producer.close()
        kill_process_group(worker)
        log.close()
        sys.path.remove(str(EXAMPLE))


def test_the_producer_gets_typed_results_from_the_worker_process(billing: Any) -> None:
    from billing_contracts import RenderedInvoice

    rendered = billing.render_now(INVOICE)

    assert isinstance(rendered, RenderedInvoice)
    assert (rendered.order_id, rendered.total_cents) == ("o-1", 700)
    assert "worker_service" not in sys.modules  # the producer never imported the handlers


def test_a_chain_of_contracts_runs_across_the_split(billing: Any) -> None:
    from billing_contracts import Delivery

    assert billing.bill(INVOICE) == Delivery(order_id="o-1", message="sent 700 cents")


def test_bad_input_is_refused_at_the_producer_and_again_by_the_worker(billing: Any) -> None:
    bad = {"order_id": "o-2", "lines": [{"sku": "pen", "qty": 0, "unit_cents": -1}]}
    with pytest.raises(ValidationError) as caught:
        billing.render.dispatch(bad)
    assert [i["path"] for i in caught.value.issues] == [("lines", 0, "qty"), ("lines", 0, "unit_cents")]

    handle = billing.render.dispatch(bad, skip_validation=True)
    with pytest.raises(JobFailedError, match=r"lines\[0\]\.qty: Input should be greater than 0"):
        handle.result(timeout=30)


def test_a_static_contract_dispatches_without_a_schema(billing: Any) -> None:
    assert billing.purge.dispatch({"ids": [1, 2, 3]}).result(timeout=30) == 3
