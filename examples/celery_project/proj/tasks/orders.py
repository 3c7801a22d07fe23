"""Order processing: reserve stock, charge the card (retrying while the gateway is down), confirm."""

from celery import chain
from celery.utils.log import get_task_logger

from proj import store
from proj.base import AuditedTask
from proj.celery import app

logger = get_task_logger(__name__)


class GatewayUnavailable(Exception):
    """The payment gateway did not answer; trying again later usually works."""


class PaymentDeclined(Exception):
    """The card was declined: retrying will not help."""


@app.task(base=AuditedTask)
def reserve_stock(order_id, items):
    total = sum(item["qty"] * item["price_cents"] for item in items)
    store.save_order(order_id, status="reserved", items=items, total_cents=total)
    logger.info("reserved %d item(s) for order %s", len(items), order_id)
    return {"order_id": order_id, "total_cents": total}


@app.task(
    bind=True,
    base=AuditedTask,
    autoretry_for=(GatewayUnavailable,),
    retry_backoff=True,
    retry_backoff_max=2,
    max_retries=4,
)
def charge(self, reservation):
    order_id, amount = reservation["order_id"], reservation["total_cents"]
    if store.in_outage("gateway", order_id):
        logger.warning("gateway down for order %s (retry %d)", order_id, self.request.retries)
        raise GatewayUnavailable(f"gateway timeout for order {order_id}")
    if amount > 100_000:
        raise PaymentDeclined(f"order {order_id}: amount {amount} over the card limit")
    store.save_order(order_id, status="paid", charged_cents=amount, charge_retries=self.request.retries)
    return {"order_id": order_id, "charged_cents": amount, "retries": self.request.retries}


@app.task(base=AuditedTask)
def confirm(payment):
    store.save_order(payment["order_id"], status="confirmed")
    return payment["order_id"]


def place_order(order_id, items):
    """The whole order as one chain: each step receives the previous step's result first."""
    return chain(reserve_stock.s(order_id, items), charge.s(), confirm.s()).apply_async()
