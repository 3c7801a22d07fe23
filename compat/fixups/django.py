"""``celery.fixups.django``: what a Celery app does for a Django project, as Celery's Django fix-up.

Installed on every app made while ``DJANGO_SETTINGS_MODULE`` is set (the app's default ``fixups``), it

* makes ``DjangoTask`` (``delay_on_commit``) the base of the app's tasks unless the project chose a ``task_cls``;
* sets Django up (``django.setup()`` and the system checks, unless ``CELERY_SKIP_CHECKS`` is set) when the
  app's loader imports the task modules (``import_modules``, sent with the app as sender);
* when a worker for this app is built (``worker_init``), closes the database connections and caches the
  process holds, then around every task it runs (``task_prerun``/``task_postrun``) closes the connections
  that are too old or unusable, so a long-running worker neither keeps a connection the server dropped
  ("server closed the connection unexpectedly") nor leaks one per task; a prefork child drops the
  connections it inherited without closing the parent's (``worker_process_init``), and an embedded beat
  closes them at its start (``beat_embedded_init``).

Several Django apps may live in one process: each fix-up reacts only to its own app's signals.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from datetime import datetime, timezone
from importlib import import_module
from typing import Any
from uuid import uuid4

from .. import signals
from ..app._tasks import DJANGO_TASK_CLS
from ..exceptions import FixupWarning, ImproperlyConfigured
from ..utils.log import get_logger

__all__ = ["DjangoFixup", "DjangoWorkerFixup", "fixup"]

logger = get_logger(__name__)

ERR_NOT_INSTALLED = ("Environment variable DJANGO_SETTINGS_MODULE is defined but Django isn't installed: "
                     "the Django fix-ups are not applied.")


def fixup(app: Any, env: str = "DJANGO_SETTINGS_MODULE") -> DjangoFixup | None:
    """Install the Django fix-up on ``app`` when ``env`` names a settings module (None otherwise)."""
    if not os.environ.get(env):
        return None
    try:
        import django
    except ImportError:
        warnings.warn(FixupWarning(ERR_NOT_INSTALLED), stacklevel=2)
        return None
    if django.VERSION < (1, 11):
        raise ImproperlyConfigured(f"taskora.compat requires Django 1.11 or later, found {django.get_version()}")
    return DjangoFixup(app).install()


class DjangoFixup:
    """The per-app part: task class, ``import_modules`` and ``worker_init`` receivers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._worker_fixup: DjangoWorkerFixup | None = None
        # worker_init cannot be filtered by sender (the sender is a worker): every fix-up gets its own receiver
        # id, a fresh token rather than id(self), which a collected fix-up would hand on.
        self._worker_init_uid = ("taskora.compat.fixups.django.DjangoFixup.on_worker_init", uuid4().hex)

    def install(self) -> DjangoFixup:
        cwd = os.getcwd()
        if cwd not in sys.path:  # the project directory (settings, apps) comes before installed packages
            sys.path.insert(0, cwd)
        if not self.app._custom_task_cls_used:
            self.app.task_cls = DJANGO_TASK_CLS
        signals.import_modules.connect(self.on_import_modules, sender=self.app)
        signals.worker_init.connect(self.on_worker_init, dispatch_uid=self._worker_init_uid)
        return self

    def close(self) -> None:
        """Disconnect every receiver this fix-up and its worker part connected (the app is closing): a closed
        app's fix-up must not act on the tasks of the apps that come after it in the process."""
        signals.import_modules.disconnect(self.on_import_modules, sender=self.app)
        signals.worker_init.disconnect(dispatch_uid=self._worker_init_uid)
        if self._worker_fixup is not None:
            self._worker_fixup.uninstall()

    @property
    def worker_fixup(self) -> DjangoWorkerFixup:
        if self._worker_fixup is None:
            self._worker_fixup = DjangoWorkerFixup(self.app)
        return self._worker_fixup

    @worker_fixup.setter
    def worker_fixup(self, value: DjangoWorkerFixup) -> None:
        self._worker_fixup = value

    def on_import_modules(self, **kwargs: Any) -> None:
        """Django is set up before the task modules (which import models) are imported."""
        self.worker_fixup.validate_models()

    def on_worker_init(self, sender: Any = None, **kwargs: Any) -> None:
        """Install the worker part for a worker of this app; another app's worker is left to its own fix-up."""
        if sender is None:
            warnings.warn(FixupWarning("worker_init was sent without a sender (the worker): the Django fix-up "
                                       "cannot tell whose worker starts and installs itself"), stacklevel=2)
        elif sender is not self.app:  # ``taskora worker -A`` sends the app itself
            owner = getattr(sender, "app", None)
            if owner is not None and owner is not self.app:
                logger.debug("Django fix-up of %r ignores worker_init of %r, a worker of %r", self.app, sender, owner)
                return
            self.worker_fixup.worker = sender
        self.worker_fixup.install()

    def now(self, utc: bool = False) -> datetime:
        """The time as Django sees it (``django.utils.timezone.now``), or UTC."""
        if utc:
            return datetime.now(timezone.utc)
        from django.utils import timezone as django_timezone

        return django_timezone.now()

    def autodiscover_tasks(self) -> list[str]:
        """The installed Django apps (where ``app.autodiscover_tasks()`` looks for ``tasks`` modules)."""
        from django.apps import apps

        return [config.name for config in apps.get_app_configs()]


class DjangoWorkerFixup:
    """The worker part: Django set-up, and closing database connections and caches around tasks."""

    #: The worker this was installed for (set by :meth:`DjangoFixup.on_worker_init`; None under the CLI).
    worker: Any = None

    def __init__(self, app: Any) -> None:
        self.app = app
        self.db_reuse_max = _db_reuse_max(app.conf)
        self._db_recycles = 0
        self._db = import_module("django.db")
        self._cache = import_module("django.core.cache")
        from django.conf import settings
        from django.db import DatabaseError
        from django.db.utils import InterfaceError

        self._settings = settings
        self.interface_errors: tuple[type[BaseException], ...] = (InterfaceError,)
        self.DatabaseError = DatabaseError

    def django_setup(self) -> None:
        import django

        django.setup()

    def validate_models(self) -> None:
        """``django.setup()`` then Django's system checks (skipped when ``CELERY_SKIP_CHECKS`` is set)."""
        from django.core.checks import run_checks

        self.django_setup()
        if not os.environ.get("CELERY_SKIP_CHECKS"):
            run_checks()

    def install(self) -> DjangoWorkerFixup:
        signals.beat_embedded_init.connect(self.close_database)
        signals.task_prerun.connect(self.on_task_prerun)
        signals.task_postrun.connect(self.on_task_postrun)
        signals.worker_process_init.connect(self.on_worker_process_init)
        self.close_database()
        self.close_cache()
        return self

    def uninstall(self) -> None:
        signals.beat_embedded_init.disconnect(self.close_database)
        signals.task_prerun.disconnect(self.on_task_prerun)
        signals.task_postrun.disconnect(self.on_task_postrun)
        signals.worker_process_init.disconnect(self.on_worker_process_init)

    def on_worker_process_init(self, **kwargs: Any) -> None:
        """In a new worker process: drop the connections inherited from the parent without talking to the
        server (closing them properly would also break the parent's), then close what is left."""
        if os.environ.get("FORKED_BY_MULTIPROCESSING"):
            self.validate_models()
        for conn in self._db.connections.all():
            if conn and conn.connection:
                self._maybe_close_db_fd(conn)
        self._close_database()
        self.close_cache()

    def _maybe_close_db_fd(self, conn: Any) -> None:
        try:
            with conn.wrap_database_errors:
                _close_fd(conn.connection)
        except self.interface_errors:
            pass

    def on_task_prerun(self, sender: Any = None, **kwargs: Any) -> None:
        """Before a task: a connection the server may have dropped since the last task is closed."""
        if self._runs_here(sender):
            self.close_database()

    def on_task_postrun(self, sender: Any = None, **kwargs: Any) -> None:
        """After a task: its connections and caches are closed (none is kept open between tasks)."""
        if self._runs_here(sender):
            self.close_database()
            self.close_cache()

    def _runs_here(self, task: Any) -> bool:
        """A task of this fix-up's app run by a worker (an eager call leaves the caller's connections alone)."""
        owner = getattr(task, "_app", None) or getattr(task, "app", None)
        return not _is_eager(task) and (owner is None or owner is self.app)

    def close_database(self, **kwargs: Any) -> None:
        """Close the connections, or only every ``2 * CELERY_DB_REUSE_MAX`` calls when that is set."""
        if not self.db_reuse_max:
            self._close_database()
            return
        if self._db_recycles >= self.db_reuse_max * 2:
            self._db_recycles = 0
            self._close_database()
        self._db_recycles += 1

    def _is_prefork(self) -> bool:
        pool = getattr(self.worker, "pool_cls", None)
        if pool is None:
            return False
        return "prefork" in (pool if isinstance(pool, str) else pool.__module__)

    def _close_database(self) -> None:
        prefork = self._is_prefork()
        for conn in _initialized_connections(self._db.connections):
            try:
                conn.close()
                options = self._settings.DATABASES.get(conn.alias, {}).get("OPTIONS", {})
                if options.get("pool") and prefork and hasattr(conn, "close_pool"):
                    with contextlib.suppress(KeyError):
                        conn.close_pool()  # forked children must not share the parent's pooled sockets
            except self.interface_errors:
                pass
            except self.DatabaseError as exc:
                if "closed" not in str(exc) and "not connected" not in str(exc):
                    raise

    def close_cache(self) -> None:
        with contextlib.suppress(TypeError, AttributeError):
            self._cache.close_caches()


def _db_reuse_max(conf: Any) -> int | None:
    """``CELERY_DB_REUSE_MAX`` in the Django settings (read through the app's configuration)."""
    for key in ("CELERY_DB_REUSE_MAX", "db_reuse_max"):
        value = conf.get(key)
        if value:
            return int(value)
    return None


def _initialized_connections(connections: Any) -> list[Any]:
    try:
        return list(connections.all(initialized_only=True))
    except TypeError:  # Django < 4.1
        return list(connections.all())


def _is_eager(task: Any) -> bool:
    return bool(getattr(getattr(task, "request", None), "is_eager", False))


def _close_fd(handle: Any) -> None:
    """Close a DB-API connection's socket at the OS level only (no goodbye to the server)."""
    with contextlib.suppress(AttributeError, OSError, TypeError):
        os.close(handle.fileno())
