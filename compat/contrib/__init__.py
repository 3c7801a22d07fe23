"""``celery.contrib`` for migrated projects: the pytest plugin and the embedded test worker."""
