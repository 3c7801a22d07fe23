"""``celery.utils.dispatch``: the ``Signal`` class (the one :mod:`taskora.compat.signals` is made of)."""

from __future__ import annotations

from ..signals import Signal

__all__ = ["Signal"]
