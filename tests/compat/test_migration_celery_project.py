"""examples/celery_project, migrated by the import rewrite, run by `taskora worker -A proj` subprocesses.

Nothing in the project is edited beyond its imports: the client processes use the project's own
modules (`proj.tasks.orders`, `proj.store`...) exactly as its web app would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from .projects.harness import migrate, project_env, run_client, wait_until, worker

pytestmark = pytest.mark.redis_only


def _db_url(redis_server, db: int) -> str:
    url = f"redis://127.0.0.1:{redis_server.port}/{db}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="module")
def shop(tmp_path_factory, redis_server):
    """The migrated project and one worker consuming both of its queues, shared by this module's tests."""
    project = migrate("celery_project", tmp_path_factory.mktemp("shop"))
    env = project_env(_db_url(redis_server, 7))
    with worker(project, env, "-Q", "default,mail", "-c", "4", "-P", "threads") as process:
        yield project, env, process


def test_delay_get_state_and_base_class_success_hook(shop):
    project, env, _ = shop
    out = run_client(project, env, """
        import json
        from taskora.compat.result import AsyncResult
        from proj import store
        from proj.celery import app
        from proj.tasks.orders import reserve_stock

        result = reserve_stock.delay("o-1", [{"sku": "mug", "qty": 2, "price_cents": 1250}])
        value = result.get(timeout=30)
        again = AsyncResult(result.id, app=app)
        audit = [a for a in store.audit_trail() if a["task_id"] == result.id]
        print(json.dumps({"value": value, "state": again.state, "ready": again.ready(), "audit": audit,
                          "order": store.load_order("o-1")}))
    """)
    assert out["value"] == {"order_id": "o-1", "total_cents": 2500}
    assert out["state"] == "SUCCESS" and out["ready"] is True
    assert out["order"]["status"] == "reserved"
    assert [(a["event"], a["task"], a["result"]) for a in out["audit"]] == [
        ("success", "proj.tasks.orders.reserve_stock", {"order_id": "o-1", "total_cents": 2500})
    ]


def test_failure_reraises_the_original_exception_and_runs_on_failure(shop):
    project, env, _ = shop
    out = run_client(project, env, """
        import json
        from proj import store
        from proj.tasks.orders import PaymentDeclined, charge

        result = charge.apply_async(args=[{"order_id": "o-2", "total_cents": 250000}])
        try:
            result.get(timeout=30)
            raised = None
        except PaymentDeclined as exc:
            raised = str(exc)
        audit = [a for a in store.audit_trail() if a["task_id"] == result.id]
        print(json.dumps({"raised": raised, "state": result.state, "failed": result.failed(), "audit": audit}))
    """)
    assert out["raised"] == "order o-2: amount 250000 over the card limit"
    assert out["state"] == "FAILURE" and out["failed"] is True
    assert [(a["event"], a["error"]) for a in out["audit"]] == [
        ("failure", "PaymentDeclined: order o-2: amount 250000 over the card limit")
    ]


def test_autoretry_for_with_backoff_retries_until_the_gateway_answers(shop):
    project, env, _ = shop
    out = run_client(project, env, """
        import json
        from proj import store
        from proj.tasks.orders import charge

        store.schedule_outages("gateway", "o-3", 2)
        value = charge.delay({"order_id": "o-3", "total_cents": 990}).get(timeout=45)
        print(json.dumps({"value": value, "calls": int(store.client().get(store.PREFIX + "calls:gateway:o-3"))}))
    """)
    assert out["value"] == {"order_id": "o-3", "charged_cents": 990, "retries": 2}
    assert out["calls"] == 3


def test_self_retry_with_countdown_then_gives_up_with_the_original_error(shop):
    project, env, _ = shop
    out = run_client(project, env, """
        import json
        from proj import store
        from proj.tasks.emails import SMTPTemporaryError, send_receipt

        store.schedule_outages("smtp", "o-4", 2)
        ok = send_receipt.delay("o-4", "ann@example.com").get(timeout=30)
        store.schedule_outages("smtp", "o-5", 10)
        failing = send_receipt.delay("o-5", "bob@example.com")
        try:
            failing.get(timeout=30)
            error = None
        except SMTPTemporaryError as exc:
            error = str(exc)
        calls = int(store.client().get(store.PREFIX + "calls:smtp:o-5"))
        print(json.dumps({"ok": ok, "error": error, "state": failing.state, "calls": calls}))
    """)
    assert out["ok"]["body"] == "Thanks for order o-4, ann@example.com!"
    assert out["ok"]["attempts"] == 3
    assert out["error"] == "451 try again later" and out["state"] == "FAILURE"
    assert out["calls"] == 4  # the first run and max_retries=3 retries


def test_chain_passes_each_result_to_the_next_step(shop):
    project, env, _ = shop
    out = run_client(project, env, """
        import json
        from proj import store
        from proj.tasks.orders import place_order

        result = place_order("o-7", [{"sku": "mug", "qty": 3, "price_cents": 1000}])
        value = result.get(timeout=30)
        print(json.dumps({"value": value, "order": store.load_order("o-7"),
                          "parent": result.parent.get(timeout=5)}))
    """)
    assert out["value"] == "o-7"
    assert out["parent"] == {"order_id": "o-7", "charged_cents": 3000, "retries": 0}
    assert out["order"]["status"] == "confirmed" and out["order"]["charged_cents"] == 3000


def test_beat_runs_the_interval_entry_of_beat_schedule(tmp_path, redis_server):
    project = migrate("celery_project", tmp_path)
    url = _db_url(redis_server, 11)
    env = project_env(url, HEARTBEAT_INTERVAL="1")
    beats = redis.Redis.from_url(url)
    with worker(project, env, "-P", "threads", "-c", "1"), worker(project, env, command="beat"):
        wait_until(lambda: beats.llen("shop:heartbeats") >= 2, 30, "two heartbeats from beat_schedule")


def test_task_routes_send_mail_tasks_to_the_mail_queue_and_q_restricts_a_worker(tmp_path, redis_server):
    project = migrate("celery_project", tmp_path)
    env = project_env(_db_url(redis_server, 8))
    with worker(project, env, "-Q", "default", "-c", "2", "-P", "threads"):
        out = run_client(project, env, """
            import json
            from proj.tasks.emails import send_receipt
            from proj.tasks.orders import reserve_stock

            mail = send_receipt.delay("o-6", "cy@example.com")
            order = reserve_stock.delay("o-6", [{"sku": "pen", "qty": 1, "price_cents": 300}]).get(timeout=30)
            print(json.dumps({"mail_id": mail.id, "mail_state": mail.state, "order": order}))
        """)
    assert out["order"] == {"order_id": "o-6", "total_cents": 300}
    assert out["mail_state"] == "PENDING"  # routed to "mail", which this worker does not consume
    with worker(project, env, "-Q", "mail", "-c", "1", "-P", "threads"):
        done = run_client(project, env, f"""
            import json
            from taskora.compat.result import AsyncResult
            from proj.celery import app
            import proj.tasks.emails  # AsyncResult(id) searches the tasks this process knows

            print(json.dumps(AsyncResult({out["mail_id"]!r}, app=app).get(timeout=30)))
        """)
    assert done["to"] == "cy@example.com"


def test_the_migrated_project_has_no_celery_import_left(tmp_path):
    project = migrate("celery_project", tmp_path)
    texts = "".join(p.read_text() for p in (project / "proj").rglob("*.py"))
    assert "from celery" not in texts and "import celery\n" not in texts
    assert "from taskora.compat import Celery" in (project / "proj" / "celery.py").read_text()


def test_a_malformed_task_routes_entry_stops_the_worker_naming_it(tmp_path, redis_server):
    project = migrate("celery_project", tmp_path)
    config = project / "proj" / "celeryconfig.py"
    config.write_text(config.read_text() + '\ntask_routes = {"proj.tasks.emails.*": 42}\n')
    env = project_env(_db_url(redis_server, 9))
    with worker(project, env, "-P", "threads") as process:
        wait_until(lambda: process.proc.poll() is not None, 30, "the worker to refuse its configuration")
    assert process.proc.returncode != 0
    errors = [line for line in process.output().splitlines() if "task_routes" in line]
    assert len(errors) == 1, process.output()
    assert "proj.tasks.emails.*" in errors[0] and "42" in errors[0]


def _project_files(project: Path) -> set[str]:
    return {str(p.relative_to(project)) for p in project.rglob("*.py") if "__pycache__" not in p.parts}


def test_migration_copies_every_module_of_the_project(tmp_path):
    project = migrate("celery_project", tmp_path)
    assert _project_files(project) == {
        "client.py", "proj/__init__.py", "proj/base.py", "proj/celery.py", "proj/celeryconfig.py",
        "proj/store.py", "proj/tasks/__init__.py", "proj/tasks/emails.py", "proj/tasks/orders.py",
        "proj/tasks/reports.py",
    }


def _refused(project, env, *args: str, command: str = "worker") -> list[str]:
    """Run a command that must refuse the configuration; return its output lines."""
    with worker(project, env, *args, command=command) as process:
        wait_until(lambda: process.proc.poll() is not None, 30, f"taskora {command} to refuse its configuration")
    assert process.proc.returncode != 0, process.output()
    return process.output().splitlines()


def test_a_rabbitmq_broker_url_is_refused_naming_the_url(tmp_path, redis_server):
    project = migrate("celery_project", tmp_path)
    config = project / "proj" / "celeryconfig.py"
    config.write_text(config.read_text() + '\nbroker_url = "amqp://guest@rabbit:5672//"\n')
    lines = _refused(project, project_env(_db_url(redis_server, 12)), "-P", "threads")
    errors = [line for line in lines if "amqp://guest@rabbit:5672//" in line]
    assert len(errors) == 1 and "redis://" in errors[0], lines


def test_beat_refuses_a_schedule_it_cannot_store_naming_the_entry(tmp_path, redis_server):
    project = migrate("celery_project", tmp_path)
    config = project / "proj" / "celeryconfig.py"
    config.write_text(config.read_text() + '\nbeat_schedule["bad"] = {"task": "proj.tasks.reports.daily_sales", '
                                           '"schedule": "every minute"}\n')
    lines = _refused(project, project_env(_db_url(redis_server, 13)), command="beat")
    errors = [line for line in lines if "beat_schedule['bad']" in line]
    assert len(errors) == 1 and "every minute" in errors[0], lines
