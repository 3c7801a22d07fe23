"""Celery 5.7's Redis backend options: ``result_failure_expires`` and ``?decode_responses=true`` (issue #14)."""

from __future__ import annotations

import uuid

import pytest
from taskora.compat import Celery, states
from taskora.compat.app._effective import result_retention


@pytest.fixture
def celery_on_redis(redis_url):
    apps = []

    def make(**settings):
        app = Celery("backend_opts", broker=redis_url, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def test_failed_results_keep_their_own_expiry(celery_on_redis):
    app = celery_on_redis()
    app.conf.update(result_expires=60, result_failure_expires=600)
    backend, ok_id, failed_id = app.backend, str(uuid.uuid4()), str(uuid.uuid4())
    backend.store_result(ok_id, 42, states.SUCCESS)
    backend.store_result(failed_id, KeyError("x"), states.FAILURE)
    assert 0 < backend.client.ttl(backend.get_key_for_task(ok_id)) <= 60
    assert 60 < backend.client.ttl(backend.get_key_for_task(failed_id)) <= 600
    assert isinstance(app.AsyncResult(failed_id).result, KeyError)


def test_failed_jobs_are_retained_as_result_failure_expires_says(celery_on_redis):
    app = celery_on_redis()
    app.conf.update(result_expires=60, result_failure_expires=600)
    retention = result_retention(app.conf.effective())
    assert retention["completed"]["max_age"] == 60 and retention["failed"]["max_age"] == 600
    app.conf.result_failure_expires = None  # unset: failures expire with the rest
    assert result_retention(app.conf.effective())["failed"]["max_age"] == 60


def test_a_bad_result_failure_expires_names_the_setting(celery_on_redis):
    app = celery_on_redis()
    app.conf.result_failure_expires = "soon"
    with pytest.raises(Exception, match="result_failure_expires"):
        app.conf.effective()


def test_decode_responses_hands_out_a_text_client_and_turns_compression_off(celery_on_redis, redis_url):
    app = celery_on_redis(backend=f"{redis_url}?decode_responses=true")
    app.conf.result_compression = "gzip"
    backend, task_id = app.backend, str(uuid.uuid4())
    backend.store_result(task_id, {"answer": 42}, states.SUCCESS)
    assert app.AsyncResult(task_id).get(timeout=5) == {"answer": 42}
    assert isinstance(backend.client.get(backend.get_key_for_task(task_id)), str)
    assert backend.compression is None and app.conf.result_compression == "gzip"


def test_without_decode_responses_the_client_answers_bytes(celery_on_redis, redis_url):
    app = celery_on_redis(backend=redis_url)
    app.conf.result_compression = "gzip"
    backend, task_id = app.backend, str(uuid.uuid4())
    backend.store_result(task_id, 1, states.SUCCESS)
    assert isinstance(backend.client.get(backend.get_key_for_task(task_id)), bytes)
    assert backend.compression == "gzip"
