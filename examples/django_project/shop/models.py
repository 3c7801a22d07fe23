from django.db import models, transaction


class Order(models.Model):
    NEW = "new"
    PAID = "paid"
    STATUSES = [(NEW, "New"), (PAID, "Paid")]

    customer = models.CharField(max_length=100)
    total_cents = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=STATUSES, default=NEW)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Order #{self.pk} ({self.status})"

    def pay_later(self):
        """Queue the payment once the order row is committed, the usual Django + Celery pattern."""
        from shop.tasks import mark_paid

        transaction.on_commit(lambda: mark_paid.delay(self.pk))
