"""Date-times as the tap writes them, and the clocks it reads."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tap_klaviyo.errors import KlaviyoError


def utc_iso(value: datetime) -> str:
    """Canonical UTC form used in filters and bookmarks: 2024-01-02T03:04:05+00:00."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def parse_datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def is_canonical(value: str) -> bool:
    """Already in utc_iso's whole-second form, e.g. 2024-01-02T03:04:05+00:00."""
    return len(value) == 25 and value.endswith("+00:00") and value[10] == "T"


def whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


class Clock:
    """Every clock the tap reads, in one object: a test that replaces one of these
    methods on ``CLOCK`` reaches every reader (rate limiters, the request ledger, the
    run's start)."""

    def now(self) -> datetime:
        """Wall-clock time in UTC."""
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


CLOCK = Clock()


def named_zone(name: str, setting: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise KlaviyoError(
            f"Setting `{setting}` is not an IANA timezone: {name!r} (example: Europe/Berlin)."
        ) from None


def duration(seconds: float, fine: bool = False) -> str:
    """A length of time as a person reads it in a log line; ``fine`` keeps a tenth of a
    minute under ten minutes (a time left that counts down: "2 min" would say it for
    anything from 90 to 150 s)."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if fine and seconds < 10 * 60:
        return f"{seconds / 60:.1f} min"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
