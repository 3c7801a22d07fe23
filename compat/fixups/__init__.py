"""``celery.fixups``: framework fix-ups an app installs at creation (Django's, under ``DJANGO_SETTINGS_MODULE``)."""
