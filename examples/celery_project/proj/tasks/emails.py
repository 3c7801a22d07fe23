"""Mail: anything here is routed to the "mail" queue by `task_routes` in celeryconfig."""

from celery import shared_task
from celery.utils.log import get_task_logger

from proj import store

logger = get_task_logger(__name__)


class SMTPTemporaryError(Exception):
    """A 4xx answer from the mail server."""


@shared_task
def render(template, context):
    return template.format(**context)


@shared_task(bind=True, max_retries=3, default_retry_delay=30)
def send_receipt(self, order_id, address):
    body = render(f"Thanks for order {{order_id}}, {address}!", {"order_id": order_id})
    if store.in_outage("smtp", order_id):
        logger.warning("smtp busy for %s, retry %d of %d", order_id, self.request.retries, self.max_retries)
        raise self.retry(exc=SMTPTemporaryError("451 try again later"), countdown=0.2)
    store.client().rpush(store.PREFIX + "outbox", body)
    return {"to": address, "body": body, "attempts": self.request.retries + 1, "id": self.request.id}
