"""Periodic jobs (see `beat_schedule`) and a report that runs on demand."""

import time

from celery import shared_task
from celery.utils.log import get_task_logger

from proj import store

logger = get_task_logger(__name__)


@shared_task
def daily_sales():
    orders = store.client().keys(store.PREFIX + "order:*")
    logger.info("daily sales: %d orders", len(orders))
    return len(orders)


@shared_task(ignore_result=True)
def record_heartbeat():
    store.client().rpush(store.PREFIX + "heartbeats", str(time.time()))
