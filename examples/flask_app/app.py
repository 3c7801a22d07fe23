"""A Flask app with Celery, written as Flask's "Celery Background Tasks" pattern writes it: ``make_celery``
builds the Celery app from the Flask config (``conf.update(app.config)``) and makes every task run inside
the Flask application context (``celery.Task = ContextTask``). Run the worker with
``celery -A app.celery worker -l info``; the web app polls task state from ``/status/<task_id>``.
"""

import os
import time

from celery import Celery
from flask import Flask, current_app, jsonify, request, url_for


def make_celery(app):
    celery = Celery(app.import_name, broker=app.config["CELERY_BROKER_URL"])
    celery.conf.update(app.config)

    class ContextTask(celery.Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery.Task = ContextTask
    return celery


redis_url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
app = Flask(__name__)
app.config.update(
    CELERY_BROKER_URL=redis_url,
    CELERY_RESULT_BACKEND=redis_url,
    REPORT_TITLE="Monthly report",
    STEP_SECONDS=float(os.environ.get("STEP_SECONDS", "1")),
)
celery = make_celery(app)


@celery.task()
def add_together(a, b):
    return a + b


@celery.task(bind=True)
def long_task(self, total):
    """Report progress while working; reads the Flask config, so it needs the application context."""
    title = current_app.config["REPORT_TITLE"]
    for step in range(total):
        self.update_state(state="PROGRESS", meta={"current": step, "total": total, "status": f"{title}: step {step}"})
        time.sleep(current_app.config["STEP_SECONDS"])
    return {"current": total, "total": total, "status": f"{title}: done", "result": total * 10}


@app.post("/add")
def add():
    data = request.get_json()
    task = add_together.delay(data["a"], data["b"])
    return jsonify({"task_id": task.id}), 202, {"Location": url_for("task_status", task_id=task.id)}


@app.post("/longtask")
def start_long_task():
    task = long_task.apply_async(args=[int(request.get_json().get("total", 5))])
    return jsonify({"task_id": task.id}), 202, {"Location": url_for("task_status", task_id=task.id)}


@app.get("/status/<task_id>")
def task_status(task_id):
    # One read of the state and its info, as a pair: each ``AsyncResult.state`` or ``.info`` is a read of the
    # backend of its own (in Celery too), and a task that moves on between two reads (PENDING to PROGRESS,
    # PROGRESS to SUCCESS) would answer with one state and another's info.
    meta = celery.backend.get_task_meta(task_id)
    state, info = meta["status"], meta["result"]
    if state == "PENDING":
        response = {"state": state, "current": 0, "total": 1, "status": "Pending..."}
    elif state == "FAILURE":
        response = {"state": state, "current": 1, "total": 1, "status": str(info)}
    elif state == "SUCCESS" and not isinstance(info, dict):
        response = {"state": state, "result": info}
    else:
        info = info or {}
        response = {"state": state, "current": info.get("current", 0), "total": info.get("total", 1),
                    "status": info.get("status", "")}
        if "result" in info:
            response["result"] = info["result"]
    return jsonify(response)
