"""Celery's ``celery.worker`` package: the worker's process state and its remote-control commands."""
