"""The current Flask documentation's Celery pattern: an app factory, ``celery_init_app`` with a ``FlaskTask``
base that runs each task in the application context, settings under ``app.config["CELERY"]`` (overridable
from ``FLASK_CELERY__...`` environment variables), and ``@shared_task`` tasks.
Run the worker with ``celery -A make_celery worker --loglevel INFO``."""

from celery import Celery, Task
from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        CELERY=dict(
            broker_url="redis://localhost",
            result_backend="redis://localhost",
            task_ignore_result=True,
        ),
        PROCESS_STEP_SECONDS=1,
    )
    app.config.from_prefixed_env()
    celery_init_app(app)

    from . import views

    app.register_blueprint(views.bp)
    return app


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
