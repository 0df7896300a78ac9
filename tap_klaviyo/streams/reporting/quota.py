"""Report quotas: what a run will request (its plan, logged up front with every
stream's in plan.py), and the
request ledger that counts each endpoint's requests over the last 24 hours in the
state, so that runs on the same day share one daily budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from tap_klaviyo.dates import duration, parse_datetime
from tap_klaviyo.plan import Cost, estimate_seconds
from tap_klaviyo.streams.reporting.calendar import DayRange

QUOTA_PERIOD = timedelta(hours=24)


@dataclass
class Plan:
    """What one stream will request in this run, and what it leaves for later."""

    stream: str
    endpoint: str
    ranges: list[DayRange]
    runnable: int
    budget: int | None
    used: int
    steady_per_minute: int
    blocked_until: datetime | None = None

    @property
    def seconds(self) -> float:
        return estimate_seconds(self.runnable, self.steady_per_minute)

    def cost(self) -> Cost:
        return Cost(
            self.stream,
            endpoint=self.endpoint,
            per_minute=self.steady_per_minute,
            requests=self.runnable,
            told=self.describe(),
        )

    def describe(self) -> str:
        if not self.ranges:
            return "up to date, no requests"
        first, last = self.ranges[0].first, self.ranges[-1].last
        partial = self.runnable < len(self.ranges)
        text = (
            f"{len(self.ranges)} request(s) for {first}..{last} "
            f"({self.endpoint}, {self.steady_per_minute}/min)"
        )
        if not partial:
            text += f", about {duration(self.seconds)}"
        if self.budget is not None:
            text += f"; {self.used} of the daily budget of {self.budget} used in the last 24 h"
        if self.blocked_until is not None:
            text += (
                f"; Klaviyo's daily quota is spent until {self.blocked_until:%Y-%m-%d %H:%M} "
                "UTC, so the stream waits for a later run"
            )
        elif partial:
            through = self.ranges[self.runnable - 1].last if self.runnable else None
            text += (
                f"; only {self.runnable} fit the budget, so this run reads "
                + (f"through {through} (about {duration(self.seconds)})" if through else "nothing")
                + " and a later run continues"
            )
        return text


class RequestLedger:
    """Requests sent per UTC hour over the last 24 hours, and until when Klaviyo's own
    daily quota is spent, kept in one stream's state."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.entry = state.setdefault("quota", {"requests_by_hour": {}})

    @property
    def _hours(self) -> dict[str, int]:
        return self.entry.setdefault("requests_by_hour", {})

    def used(self, now: datetime) -> int:
        hours = self._hours
        horizon = now - QUOTA_PERIOD
        for hour in list(hours):
            if _hour(hour) + timedelta(hours=1) <= horizon:
                del hours[hour]
        return sum(int(v) for v in hours.values())

    def count(self, now: datetime) -> None:
        hours = self._hours
        key = now.strftime("%Y-%m-%dT%H")
        hours[key] = int(hours.get(key, 0)) + 1

    def uncount(self, now: datetime) -> None:
        """A request Klaviyo refused for the daily quota used none of it."""
        hours = self._hours
        key = now.strftime("%Y-%m-%dT%H")
        if hours.get(key):
            hours[key] = int(hours[key]) - 1

    def blocked_until(self, now: datetime) -> datetime | None:
        value = self.entry.get("blocked_until")
        if not value:
            return None
        until = parse_datetime(str(value))
        if until <= now:
            self.entry.pop("blocked_until", None)
            return None
        return until

    def block(self, until: datetime) -> None:
        self.entry["blocked_until"] = until.isoformat()


def _hour(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%dT%H").replace(tzinfo=timezone.utc)
