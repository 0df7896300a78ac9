"""Dates and timezones of reports: instants as the API writes them, the account's timezone,
whole local days, and the days a predefined timeframe key covers."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..data import SimData


def parse_instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return value


def account_zone(data: SimData) -> ZoneInfo:
    for account in data.stored("account").values():
        name = account["attributes"].get("timezone")
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                break
    return ZoneInfo("UTC")


def local_day(stamp: str | None, zone: ZoneInfo) -> date | None:
    moment = parse_instant(stamp)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone).date()


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def each_day(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def key_timeframe(key: str, today: date) -> tuple[date, date]:
    """The days a predefined timeframe key covers (weeks start on Monday)."""
    yesterday = today - timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    first_of_month = today.replace(day=1)
    spans: dict[str, tuple[date, date]] = {
        "today": (today, today),
        "yesterday": (yesterday, yesterday),
        "last_7_days": (today - timedelta(days=7), yesterday),
        "last_30_days": (today - timedelta(days=30), yesterday),
        "last_90_days": (today - timedelta(days=90), yesterday),
        "last_365_days": (today - timedelta(days=365), yesterday),
        "last_3_months": (add_months(today, -3), yesterday),
        "last_12_months": (add_months(today, -12), yesterday),
        "this_week": (monday, today),
        "last_week": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "this_month": (first_of_month, today),
        "last_month": (add_months(first_of_month, -1), first_of_month - timedelta(days=1)),
        "this_year": (date(today.year, 1, 1), today),
        "last_year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    }
    return spans[key]
