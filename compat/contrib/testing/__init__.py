"""``celery.contrib.testing``: test apps, an embedded worker and the integration-test manager."""
