"""Optional dependencies: imported where a feature is used, never when taskora is imported.

The core stays free of metrics, tracing and web libraries; a feature that needs one calls ``require`` and a
missing install fails there, with the ``pip install`` line that fixes it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import ConfigurationError


class MissingExtraError(ConfigurationError, ImportError):
    """A feature's optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise MissingExtraError naming ``taskora[<extra>]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(f"{feature} needs the {module!r} package, which is not installed: "
                                f"pip install 'taskora[{extra}]'") from exc
