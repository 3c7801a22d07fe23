"""Shop tasks: found by `app.autodiscover_tasks()` because `shop` is an installed app."""

from celery import shared_task
from celery.utils.log import get_task_logger
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from shop.models import Order

logger = get_task_logger(__name__)


@shared_task
def mark_paid(order_id):
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        order.status = Order.PAID
        order.paid_at = timezone.now()
        order.save(update_fields=["status", "paid_at"])
    logger.info("order %s paid", order_id)
    return {"id": order.pk, "status": order.status}


@shared_task(bind=True)
def revenue(self, status=Order.PAID):
    total = Order.objects.filter(status=status).aggregate(total=Sum("total_cents"))["total"] or 0
    return {"status": status, "total_cents": total, "task_id": self.request.id}
