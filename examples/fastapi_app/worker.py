"""The Celery side of a FastAPI app, as the FastAPI + Celery tutorials write it: one module that names the
app after itself and takes its broker and result backend from the environment.
Run it with ``celery -A worker.celery worker --loglevel=info``."""

import os
import time

from celery import Celery

celery = Celery(__name__)
celery.conf.broker_url = os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379")
celery.conf.result_backend = os.environ.get("CELERY_RESULT_BACKEND", "redis://localhost:6379")


@celery.task(name="create_task")
def create_task(task_type):
    time.sleep(int(task_type) * float(os.environ.get("SECONDS_PER_UNIT", "10")))
    return True


@celery.task(name="divide")
def divide(x, y):
    return x / y
