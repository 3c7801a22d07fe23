"""The Celery app of the Django project: `celery -A proj worker -l info`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

app = Celery("proj")

# Every setting whose name starts with CELERY_ in Django's settings configures Celery.
app.config_from_object("django.conf:settings", namespace="CELERY")

# Load tasks.py from every installed Django app.
app.autodiscover_tasks()


@app.task(bind=True, ignore_result=True)
def debug_task(self):
    print(f"Request: {self.request!r}")
