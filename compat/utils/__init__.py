"""Celery's ``celery.utils`` helpers that project code imports (``celery.utils.log``)."""
