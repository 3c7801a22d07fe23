from celery import shared_task
from celery.exceptions import Ignore  # noqa: F401 - a second celery import the migration rewrites


@shared_task
def add(x, y):
    return x + y


@shared_task(bind=True)
def whoami(self):
    return self.request.hostname


@shared_task
def fail(message):
    raise ValueError(message)
