"""The Celery version this front presents (``celery.__version__``): a leaf, so modules that report it (the
bug report) need not import the package's ``__init__``, which imports them (an import cycle)."""

from __future__ import annotations

__version__ = "5.5.0"
VERSION = (5, 5, 0)
SERIES = "taskora"
