"""Celery's ``celery.app`` package: the app object, its configuration and its task routing."""
