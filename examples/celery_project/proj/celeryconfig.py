"""Celery settings, read by `app.config_from_object("proj.celeryconfig")`."""

import os
from datetime import timedelta

from celery.schedules import crontab
from kombu import Queue

broker_url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
result_backend = os.environ.get("REDIS_URL", "redis://localhost:6379/0")

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
timezone = "Europe/Berlin"
enable_utc = True

task_acks_late = True
task_track_started = True
worker_prefetch_multiplier = 1
result_expires = timedelta(hours=6)
broker_transport_options = {"visibility_timeout": 3600}

# Two queues: order work on "default", anything that talks to the mail server on "mail".
task_default_queue = "default"
task_queues = (Queue("default"), Queue("mail"))
task_routes = {
    "proj.tasks.emails.*": {"queue": "mail"},
    "proj.tasks.reports.daily_sales": "default",
}

beat_schedule = {
    "daily-sales-report": {
        "task": "proj.tasks.reports.daily_sales",
        "schedule": crontab(minute=30, hour=6),
    },
    "gateway-health-check": {
        "task": "proj.tasks.reports.record_heartbeat",
        "schedule": float(os.environ.get("HEARTBEAT_INTERVAL", "300")),
    },
}
