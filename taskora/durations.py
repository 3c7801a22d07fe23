"""Durations as users write them: seconds, ``timedelta``, or ``"500ms"``/``"30s"``/``"5m"``/``"2h"``/``"1d"``.

Python and Celery count in seconds; only the wire counts in epoch milliseconds.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Union

from .errors import ConfigurationError

Duration = Union[int, float, str, timedelta]

_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")

#: The longest duration accepted (about 31,700 years). Times travel as epoch milliseconds in Redis sorted-set
#: scores, which are doubles: exact only up to 2**53 ms. ``now + MAX_SECONDS`` stays well inside that, so a
#: huge delay is refused where it is given instead of overflowing (or silently rounding) further down.
MAX_SECONDS = 10**12


def to_seconds(value: Duration, *, name: str = "duration", allow_negative: bool = False) -> float:
    """Convert a user duration to seconds; the error names the option (``name``) that was wrong."""
    if isinstance(value, bool):
        raise ConfigurationError(f"{name}: expected a duration, got a bool ({value!r})")
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)):
        seconds = _as_float(value, name)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            raise ConfigurationError(
                f"{name}: cannot read {value!r} as a duration; use seconds or a string like "
                "'500ms', '30s', '5m', '2h', '1d'"
            )
        seconds = float(match.group(1)) * _UNITS_S[match.group(2) or "s"]
    else:
        raise ConfigurationError(f"{name}: expected a duration, got {type(value).__name__} ({value!r})")
    if seconds < 0 and not allow_negative:
        raise ConfigurationError(f"{name}: must not be negative (got {value!r})")
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ConfigurationError(f"{name}: must be a finite number (got {value!r})")
    if abs(seconds) > MAX_SECONDS:
        raise ConfigurationError(f"{name}: {value!r} is out of range; at most {MAX_SECONDS:.0e} seconds")
    return seconds


def _as_float(value: int | float, name: str) -> float:
    try:
        return float(value)
    except OverflowError:  # an int too large for a float
        raise ConfigurationError(f"{name}: {value!r} is out of range; at most {MAX_SECONDS:.0e} seconds") from None


def to_ms(value: Duration, *, name: str = "duration") -> int:
    """Convert a user duration to whole milliseconds for the wire."""
    return int(round(to_seconds(value, name=name) * 1000))

