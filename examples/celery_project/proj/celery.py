"""The Celery application: `celery -A proj worker -l info` finds `app` here."""

from celery import Celery

app = Celery("proj", include=["proj.tasks.orders", "proj.tasks.emails", "proj.tasks.reports"])
app.config_from_object("proj.celeryconfig")
