"""One worker for the whole session (``celery_session_worker``), as suites with many tests use."""

from proj.tasks import add


def test_session_worker_runs_tasks(celery_session_app, celery_session_worker):
    assert add.delay(1, 2).get(timeout=10) == 3


def test_session_worker_is_reused(celery_session_app, celery_session_worker):
    assert add.delay(2, 3).get(timeout=10) == 5
    assert celery_session_worker.hostname in dict(
        pair for reply in celery_session_app.control.ping(timeout=2) for pair in reply.items())
