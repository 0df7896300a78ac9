"""Report day ranges: whole local days in the account's timezone, cut into calendar
periods (values reports) or chunks the endpoint allows (series, metric aggregates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class DayRange:
    """Whole local days ``first`` to ``last``, both included."""

    first: date
    last: date


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def period_end(day: date, period: str) -> date:
    if period == "week":
        return day + timedelta(days=6 - day.weekday())
    if period == "month":
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return following - timedelta(days=1)
    return day


def period_ranges(first: date, last: date, period: str, floor: date | None) -> list[DayRange]:
    """Calendar periods (day, Monday-week, month) covering ``first``..``last``; the first
    one starts at its period's start (a period is always re-read whole), never before
    ``floor``; the last one may end before its period does (complete days only)."""
    ranges = []
    day = period_start(first, period)
    if floor is not None and day < floor:
        day = floor
    while day <= last:
        end = min(period_end(day, period), last)
        ranges.append(DayRange(day, end))
        day = end + timedelta(days=1)
    return ranges


def chunk_ranges(first: date, last: date, days: int) -> list[DayRange]:
    ranges = []
    day = first
    while day <= last:
        end = min(day + timedelta(days=days - 1), last)
        ranges.append(DayRange(day, end))
        day = end + timedelta(days=1)
    return ranges


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def local_end_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone)


def last_complete_day(today: date, end: datetime | None, zone: ZoneInfo) -> date:
    """The last local day whose numbers a run reads: before today, and before
    ``end_date``'s day."""
    last = today - timedelta(days=1)
    if end is not None:
        last = min(last, end.astimezone(zone).date() - timedelta(days=1))
    return last


def first_day(
    *,
    bookmark: str | None,
    settled: str | None,
    lookback_days: int,
    initial: date,
    configured_start: bool,
) -> date:
    """Where a run starts: after the last settled day, else the bookmark less the
    look-back, else ``initial`` (``reporting_start_date`` or the default history); a
    configured start date is a floor."""
    if not bookmark:
        return initial
    if settled:
        start = date.fromisoformat(str(settled)[:10]) + timedelta(days=1)
    else:
        start = date.fromisoformat(str(bookmark)[:10]) + timedelta(days=1 - lookback_days)
    return max(start, initial) if configured_start else start
