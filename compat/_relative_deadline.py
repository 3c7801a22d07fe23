"""The due time of a *relative* Celery interval (``schedule(run_every, relative=True)``) across DST changes.

A relative schedule is due at a *local clock boundary*: the day, hour or minute boundary its period rounds
to (Celery's ``delta_resolution``), not at ``last_run_at + period`` in elapsed time. Around a DST change a
local boundary may exist twice (a repeated hour) or not at all (a skipped midnight, as in Cairo or Havana),
so Celery 5.7 picks among its real occurrences:

* periods of a day or more advance by calendar days and are due at the first occurrence of that day's
  start *after* ``last_run_at`` (a skipped midnight resolves forward to the first time that exists);
* shorter periods are due at the latest occurrence of the rounded boundary that is not after
  ``last_run_at + period`` in elapsed time, and never at or before ``last_run_at`` (when rounding
  falls back behind it, the next clock boundary is considered too).

Everything is computed on UTC instants, so the answer does not depend on the tz library (``zoneinfo`` or
dateutil): a wall time's occurrences are found by trying the zone's offsets around it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

__all__ = ["relative_due"]

_UTC = timezone.utc
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_MINUTE = timedelta(minutes=1)


def relative_due(last_run_at: datetime, period: timedelta) -> datetime:
    """The UTC instant a relative schedule that last ran at ``last_run_at`` (aware) is next due."""
    zone = last_run_at.tzinfo
    assert zone is not None, "relative_due needs an aware last_run_at"
    start_utc = last_run_at.astimezone(_UTC)
    if period >= _DAY:
        wall_end = last_run_at.replace(tzinfo=None) + period  # calendar days, on the wall clock
        future = [at for at in _boundary_instants(wall_end, period, zone) if at > start_utc]
        return min(future, default=_instants(wall_end, zone)[0])
    end_utc = start_utc + period
    wall_end = end_utc.astimezone(zone).replace(tzinfo=None)
    candidates = _boundary_instants(wall_end, period, zone)
    rounded = max((at for at in candidates if at <= end_utc), default=min(candidates))
    if period < _MINUTE or rounded > start_utc:
        return rounded
    return _after_rollback(last_run_at, period, wall_end, candidates, end_utc)


def _after_rollback(last_run_at: datetime, period: timedelta, wall_end: datetime, candidates: list[datetime],
                    end_utc: datetime) -> datetime:  # fmt: skip
    """Rounding put the boundary at or before the last run (a partial-hour clock rollback): consider the
    next clock boundary and the calendar one as well, and take the latest not after the elapsed end."""
    unit = _HOUR if period >= _HOUR else _MINUTE
    zone = last_run_at.tzinfo
    assert zone is not None
    calendar_end = last_run_at.replace(tzinfo=None) + period
    candidates = [*candidates, *_boundary_instants(wall_end + unit, period, zone),
                  *_boundary_instants(calendar_end, period, zone)]
    start_utc = last_run_at.astimezone(_UTC)
    future = [at for at in candidates if at > start_utc]
    in_time = [at for at in future if at <= end_utc]
    return max(in_time) if in_time else min(future, default=end_utc)


def _boundary_instants(wall: datetime, period: timedelta, zone: tzinfo) -> list[datetime]:
    """The UTC occurrences of ``wall`` rounded down to ``period``'s resolution in ``zone``."""
    return _instants(_round_down(wall, period), zone)


def _round_down(wall: datetime, period: timedelta) -> datetime:
    """Celery's ``delta_resolution``: drop the fields below the period's unit (day, hour, minute)."""
    if period >= _DAY:
        return wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if period >= _HOUR:
        return wall.replace(minute=0, second=0, microsecond=0)
    if period >= _MINUTE:
        return wall.replace(second=0, microsecond=0)
    return wall.replace(microsecond=0)


def _instants(wall: datetime, zone: tzinfo) -> list[datetime]:
    """Every UTC instant whose local time in ``zone`` is the naive ``wall`` (two in a repeated hour), sorted;
    for a wall time skipped by a DST gap, the one instant it resolves forward to (the gap's end + offset)."""
    offsets = _offsets_near(wall, zone)
    real = sorted({wall - offset for offset in offsets if _local(wall - offset, zone) == wall})
    if real:
        return [at.replace(tzinfo=_UTC) for at in real]
    return [max(wall - offset for offset in offsets).replace(tzinfo=_UTC)]


def _offsets_near(wall: datetime, zone: tzinfo) -> set[timedelta]:
    """The UTC offsets ``zone`` uses within a day of ``wall`` (both sides of any transition there)."""
    offsets = set()
    for probe in (wall - _DAY, wall, wall + _DAY):
        offset = probe.replace(tzinfo=_UTC).astimezone(zone).utcoffset()
        if offset is not None:
            offsets.add(offset)
    for fold in (0, 1):
        offset = wall.replace(tzinfo=zone, fold=fold).utcoffset()
        if offset is not None:
            offsets.add(offset)
    return offsets


def _local(naive_utc: datetime, zone: tzinfo) -> datetime:
    """The naive local wall time of the UTC instant ``naive_utc`` in ``zone``."""
    return naive_utc.replace(tzinfo=_UTC).astimezone(zone).replace(tzinfo=None)
