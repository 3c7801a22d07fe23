"""Finding a package's task module for ``app.autodiscover_tasks()``, as Celery's loader does.

A listed name need not be an importable package: Django lets ``INSTALLED_APPS`` name an app config class
(``proj.BillingConfig``), and Celery's test lists ``datetime.datetime``. Celery then looks one level
up (``proj``, ``datetime``) for the related module, and a related module that does not exist there is
simply skipped. Only an import error from *inside* a module that exists is raised, so a broken
``tasks.py`` is not mistaken for a missing one.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["find_related_module"]


def find_related_module(package: str, related_name: str | None) -> ModuleType | None:
    """``<package>.<related_name>`` imported, ``package`` itself when ``related_name`` is empty, or None
    when the related module does not exist.

    Raises:
        ModuleNotFoundError: neither ``package`` nor its parent exists (``nonexistent.pkg``), or the
            related module itself imports a module that is missing.
    """
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        parent = package.rpartition(".")[0]
        if not parent or not _names_part_of(exc.name, package):
            raise
        importlib.import_module(parent)
        return _import_if_present(f"{parent}.{related_name}") if related_name else None
    return _import_if_present(f"{package}.{related_name}") if related_name else module


def _names_part_of(missing: str | None, package: str) -> bool:
    """Whether the missing module is ``package`` or one of its parents (not a module it imports: that
    error is the package's own and is raised)."""
    return bool(missing) and (package == missing or package.startswith(f"{missing}."))


def _import_if_present(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise
