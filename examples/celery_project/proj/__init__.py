"""An online shop's background jobs, written for Celery (the migration examples' source of truth)."""

# Load the app whenever the package is imported, so @shared_task tasks bind to it (Celery's advice).
from .celery import app as celery_app

__all__ = ("celery_app",)
