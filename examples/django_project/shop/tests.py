"""The shop's tests, written the way Django projects test Celery tasks (cookiecutter-django's generated
test sets CELERY_TASK_ALWAYS_EAGER for one test): `python manage.py test shop`."""

from celery.result import EagerResult
from django.test import TestCase, override_settings

from proj.celery import app
from shop.models import Order
from shop.tasks import mark_paid, revenue


class EagerTaskTests(TestCase):
    @override_settings(CELERY_TASK_ALWAYS_EAGER=True)
    def test_revenue_runs_eagerly_under_override_settings(self):
        Order.objects.create(customer="ann", total_cents=300, status=Order.PAID)
        Order.objects.create(customer="bob", total_cents=200, status=Order.PAID)
        task_result = revenue.delay()
        self.assertIsInstance(task_result, EagerResult)
        self.assertEqual(task_result.result["total_cents"], 500)

    def test_the_override_is_undone_after_the_test(self):
        self.assertFalse(app.conf.task_always_eager)

    @override_settings(CELERY_TASK_ALWAYS_EAGER=True)
    def test_delay_on_commit_sends_only_when_the_transaction_commits(self):
        order = Order.objects.create(customer="cid", total_cents=100)
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            self.assertIsNone(mark_paid.delay_on_commit(order.pk))
            order.refresh_from_db()
            self.assertEqual(order.status, Order.NEW)  # not sent yet: the transaction is still open
        self.assertEqual(len(callbacks), 1)
        order.refresh_from_db()
        self.assertEqual(order.status, Order.PAID)
