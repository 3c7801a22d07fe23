import os

import pytest


@pytest.fixture(scope="session")
def celery_config():
    url = os.environ["REDIS_URL"]
    return {"broker_url": url, "result_backend": url}


@pytest.fixture(scope="session")
def celery_includes():
    return ["proj.tasks"]
