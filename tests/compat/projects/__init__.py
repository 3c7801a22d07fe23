"""Helpers that migrate the example Celery projects into a temporary folder and run them for real."""
