"""When a Celery ``eta``/``countdown``/``expires`` falls: naive datetimes read in the app's timezone.

A leaf (standard library only): the publisher needs these and the app class imports the publisher, so
keeping them in ``base.py`` made the publisher import the app lazily (a hidden cycle).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any


def as_utc(when: datetime, tz: Any) -> datetime:
    """A naive ETA is read in the app's timezone (celery-surface §15.21)."""
    return when.replace(tzinfo=tz).astimezone(timezone.utc) if when.tzinfo is None else when


def seconds_until(when: Any, now: datetime, tz: Any) -> float:
    """``eta``/``expires`` given as seconds, datetime or ISO string → seconds from ``now``."""
    if isinstance(when, timedelta):
        return when.total_seconds()
    if isinstance(when, (int, float)):
        return float(when)
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return (as_utc(when, tz) - now).total_seconds()
