"""examples/django_project migrated: `manage.py migrate`, then a real `taskora worker -A proj` using the
ORM (the compat app sets Django up before ``autodiscover_tasks()`` imports the apps' ``tasks.py``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import redis

from .projects.harness import migrate, project_env, run_client, worker

pytest.importorskip("django", reason="the Django example needs the test extra (pip install -e '.[test]')")
pytestmark = pytest.mark.redis_only

SETUP = """
    import json, os
    import django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
    django.setup()
    from shop.models import Order
    from shop.tasks import mark_paid, revenue
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, redis_server):
    """The migrated project with a migrated sqlite database, and one worker."""
    root = tmp_path_factory.mktemp("django")
    project = migrate("django_project", root)
    url = f"redis://127.0.0.1:{redis_server.port}/10"
    redis.Redis.from_url(url).flushdb()
    env = project_env(url, DJANGO_DB_PATH=str(root / "db.sqlite3"), DJANGO_SETTINGS_MODULE="proj.settings")
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with worker(project, env, "-c", "2", "-P", "threads") as process:
        yield project, env, process


def django_client(site, code: str) -> object:
    """Run ``code`` in a client process after ``django.setup()``, the way a view or a shell would."""
    project, env, _ = site
    return run_client(project, env, textwrap.dedent(SETUP) + textwrap.dedent(code))


def test_shared_task_found_by_autodiscover_updates_the_orm(site):
    out = django_client(site, """
        order = Order.objects.create(customer="ann", total_cents=990)
        value = mark_paid.delay(order.pk).get(timeout=30)
        order.refresh_from_db()
        print(json.dumps({"value": value, "pk": order.pk, "status": order.status,
                          "paid": order.paid_at is not None}))
    """)
    assert out["value"] == {"id": out["pk"], "status": "paid"}
    assert out["status"] == "paid" and out["paid"] is True


def test_on_commit_dispatch_and_a_bound_aggregate_task(site):
    out = django_client(site, """
        import time
        from django.db import transaction
        with transaction.atomic():
            order = Order.objects.create(customer="bob", total_cents=1500)
            order.pay_later()
        deadline = time.monotonic() + 30
        while Order.objects.get(pk=order.pk).status != "paid" and time.monotonic() < deadline:
            time.sleep(0.05)
        result = revenue.delay()
        value = result.get(timeout=30)
        print(json.dumps({"status": Order.objects.get(pk=order.pk).status, "value": value, "id": result.id,
                          "expected": sum(o.total_cents for o in Order.objects.filter(status="paid"))}))
    """)
    assert out["status"] == "paid"
    assert out["value"] == {"status": "paid", "total_cents": out["expected"], "task_id": out["id"]}


def test_settings_come_from_django_with_the_celery_namespace(site):
    out = django_client(site, """
        from proj.celery import app
        names = sorted(n for n in app.tasks if n.startswith(("shop.", "proj.")))
        print(json.dumps({"tz": app.conf.timezone, "acks_late": app.conf.task_acks_late,
                          "limit": app.conf.task_time_limit, "names": names}))
    """)
    assert out == {"tz": "Europe/Paris", "acks_late": True, "limit": 300,
                   "names": ["proj.celery.debug_task", "shop.tasks.mark_paid", "shop.tasks.revenue"]}


def test_django_test_runner_with_override_settings_and_delay_on_commit(site):
    """``manage.py test shop``: ``override_settings(CELERY_TASK_ALWAYS_EAGER=True)`` makes ``.delay()`` eager
    for that test only (Django settings are read live), and ``delay_on_commit`` waits for the commit."""
    project, env, _ = site
    done = subprocess.run([sys.executable, "manage.py", "test", "shop", "-v", "2"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 3 tests" in done.stderr and "OK" in done.stderr


def test_delay_on_commit_with_a_worker_sends_after_commit_and_never_after_rollback(site):
    out = django_client(site, """
        from taskora.compat.signals import before_task_publish
        from django.db import transaction
        sent = []
        before_task_publish.connect(lambda sender=None, headers=None, **kw: sent.append(headers["id"]), weak=False)
        order = Order.objects.create(customer="dee", total_cents=700)
        try:
            with transaction.atomic():
                mark_paid.delay_on_commit(order.pk)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        after_rollback = len(sent)
        autocommit = mark_paid.delay_on_commit(order.pk)  # no transaction open: sent at once
        after_autocommit = len(sent)
        with transaction.atomic():
            returned = mark_paid.apply_async_on_commit((order.pk,))
            inside = len(sent)
        values = [mark_paid.AsyncResult(task_id).get(timeout=30) for task_id in sent]
        order.refresh_from_db()
        print(json.dumps({"counts": [after_rollback, after_autocommit, inside, len(sent)],
                          "returned": [autocommit, returned], "values": values, "status": order.status,
                          "pk": order.pk}))
    """)
    assert out["counts"] == [0, 1, 1, 2] and out["returned"] == [None, None]
    assert out["values"] == [{"id": out["pk"], "status": "paid"}] * 2 and out["status"] == "paid"
