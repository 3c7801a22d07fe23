import os

import pytest


@pytest.fixture(scope="session")
def celery_config():
    """The session worker gets a database of its own, so it never takes the per-test workers' jobs."""
    url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/1"
    return {"broker_url": url, "result_backend": url}
