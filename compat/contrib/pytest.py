"""``celery.contrib.pytest`` for migrated projects: Celery's fixtures, with their names and scopes.

Installed as the pytest plugin ``taskora_celery`` (a ``pytest11`` entry point named so that it does not
clash with Celery's own ``celery`` plugin when both are installed), so a migrated test suite finds
``celery_app``, ``celery_worker`` and the rest without a ``pytest_plugins`` line. Override
``celery_config`` (session scope) to point the apps at Redis; the default is Celery's test
configuration, which runs on taskora's in-memory engine. ``@pytest.mark.celery(**overrides)``
overrides configuration keys for one test. ``NO_WORKER=1`` in the environment skips starting workers.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

__all__ = ["celery_app", "celery_worker", "celery_session_app", "celery_session_worker", "celery_config",
           "celery_parameters", "celery_worker_parameters", "celery_includes", "celery_class_tasks",
           "celery_worker_pool", "celery_enable_logging", "use_celery_app_trap", "depends_on_current_app"]

NO_WORKER = os.environ.get("NO_WORKER")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``celery`` marker so that ``--strict-markers`` accepts it."""
    config.addinivalue_line("markers", "celery(**overrides): override celery configuration for a test case")


@contextmanager
def _create_app(enable_logging: bool = False, use_trap: bool = False, parameters: Mapping[str, Any] | None = None,
                **config: Any) -> Iterator[Any]:  # fmt: skip
    """A :func:`TestApp` with ``config``, inside :func:`setup_default_app` (global app state restored after)."""
    from .testing.app import TestApp, setup_default_app

    app = TestApp(set_as_current=False, enable_logging=enable_logging, config=config, **dict(parameters or {}))
    with setup_default_app(app, use_trap=use_trap):
        yield app


def _marked_config(request: pytest.FixtureRequest, celery_config: Mapping[str, Any]) -> dict[str, Any]:
    mark = request.node.get_closest_marker("celery")
    return dict(celery_config, **(mark.kwargs if mark else {}))


def _import_includes(app: Any, includes: Sequence[str]) -> None:
    """Import the task modules a worker needs (``celery_includes``); shared tasks register on import."""
    for module in includes:
        importlib.import_module(module)
    app.finalize()


@pytest.fixture(scope="session")
def use_celery_app_trap() -> bool:
    """Override to return True: any use of the current/default app then raises (finds missing ``app=``)."""
    return False


@pytest.fixture(scope="session")
def celery_session_app(request: pytest.FixtureRequest, celery_config: Mapping[str, Any],
                       celery_parameters: Mapping[str, Any], celery_enable_logging: bool,
                       use_celery_app_trap: bool) -> Iterator[Any]:  # fmt: skip
    """One app for the whole session, made current and default (unless the trap is on)."""
    config = _marked_config(request, celery_config)
    with _create_app(enable_logging=celery_enable_logging, use_trap=use_celery_app_trap,
                     parameters=celery_parameters, **config) as app:
        if not use_celery_app_trap:
            app.set_default()
            app.set_current()
        yield app


@pytest.fixture(scope="session")
def celery_session_worker(request: pytest.FixtureRequest, celery_session_app: Any, celery_includes: Sequence[str],
                          celery_class_tasks: Sequence[Any], celery_worker_pool: str,
                          celery_worker_parameters: Mapping[str, Any]) -> Iterator[Any]:  # fmt: skip
    """An embedded worker for :func:`celery_session_app` that lives for the whole session."""
    from .testing import worker

    if NO_WORKER:
        yield None
        return
    _import_includes(celery_session_app, celery_includes)
    for task in celery_class_tasks:
        celery_session_app.register_task(task)
    with worker.start_worker(celery_session_app, pool=celery_worker_pool, **celery_worker_parameters) as w:
        yield w


@pytest.fixture(scope="session")
def celery_enable_logging() -> bool:
    """Override to return True to let the test app set up logging (accepted; taskora never hijacks it)."""
    return False


@pytest.fixture(scope="session")
def celery_includes() -> Sequence[str]:
    """Override with module names the worker fixtures import first (task modules, signal handlers)."""
    return ()


@pytest.fixture(scope="session")
def celery_worker_pool() -> str:
    """The embedded worker's pool: ``solo`` (default), ``threads``, or ``prefork`` (on Redis)."""
    return "solo"


@pytest.fixture(scope="session")
def celery_config() -> Mapping[str, Any]:
    """Override to configure the test apps (e.g. ``{'broker_url': 'redis://...'}``)."""
    return {}


@pytest.fixture(scope="session")
def celery_parameters() -> Mapping[str, Any]:
    """Override with keyword arguments for the test apps' ``Celery(...)`` constructor."""
    return {}


@pytest.fixture(scope="session")
def celery_worker_parameters() -> Mapping[str, Any]:
    """Override with keyword arguments for the embedded workers (``queues``, ``concurrency``, ...)."""
    return {}


@pytest.fixture(scope="session")
def celery_class_tasks() -> Sequence[Any]:
    """Override with class-based tasks to register on the session app before its worker starts."""
    return []


@pytest.fixture()
def celery_app(request: pytest.FixtureRequest, celery_config: Mapping[str, Any], celery_parameters: Mapping[str, Any],
               celery_enable_logging: bool, use_celery_app_trap: bool) -> Iterator[Any]:  # fmt: skip
    """A fresh app for one test (``@pytest.mark.celery(**overrides)`` changes its configuration)."""
    config = _marked_config(request, celery_config)
    with _create_app(enable_logging=celery_enable_logging, use_trap=use_celery_app_trap,
                     parameters=celery_parameters, **config) as app:
        yield app


@pytest.fixture()
def celery_worker(request: pytest.FixtureRequest, celery_app: Any, celery_includes: Sequence[str],
                  celery_worker_pool: str, celery_worker_parameters: Mapping[str, Any]) -> Iterator[Any]:  # fmt: skip
    """An embedded worker for :func:`celery_app`, started before the test and stopped after it."""
    from .testing import worker

    if NO_WORKER:
        yield None
        return
    _import_includes(celery_app, celery_includes)
    with worker.start_worker(celery_app, pool=celery_worker_pool, **celery_worker_parameters) as w:
        yield w


@pytest.fixture()
def depends_on_current_app(celery_app: Any) -> None:
    """Make :func:`celery_app` the current app for the test."""
    celery_app.set_current()
