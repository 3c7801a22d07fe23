"""Celery's own integration suite run against taskora.compat (``python -m conformance.celery_suite``)."""
