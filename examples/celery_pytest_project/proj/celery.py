"""The project's Celery app (the tests use their own test apps; shared tasks register on both)."""

import os

from celery import Celery

app = Celery("proj", broker=os.environ.get("REDIS_URL", "redis://localhost:6379/0"), include=["proj.tasks"])
app.conf.result_backend = app.conf.broker_url
