"""Report results: facts filtered and grouped, counts summed (or the last value), rates
computed from the sums, and series split into the interval's buckets."""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from ..filters import Condition
from .body import Query
from .dates import account_zone
from .facts import Fact, FactBuilder

# Statistics reported as the value at the end of a range rather than a sum over it.
LAST_VALUE = frozenset({"total_members"})


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else 0.0


MESSAGE_RATES: dict[str, Callable[[dict[str, float]], float]] = {
    "average_order_value": lambda c: _ratio(c["conversion_value"], c["conversions"]),
    "bounce_rate": lambda c: _ratio(c["bounced"], c["recipients"]),
    "bounced_or_failed_rate": lambda c: _ratio(c["bounced"] + c["failed"], c["recipients"]),
    "click_rate": lambda c: _ratio(c["clicks_unique"], c["delivered"]),
    "click_to_open_rate": lambda c: _ratio(c["clicks_unique"], c["opens_unique"]),
    "conversion_rate": lambda c: _ratio(c["conversion_uniques"], c["delivered"]),
    "delivery_rate": lambda c: _ratio(c["delivered"], c["recipients"]),
    "failed_rate": lambda c: _ratio(c["failed"], c["recipients"]),
    "open_rate": lambda c: _ratio(c["opens_unique"], c["delivered"]),
    "revenue_per_recipient": lambda c: _ratio(c["conversion_value"], c["recipients"]),
    "spam_complaint_rate": lambda c: _ratio(c["spam_complaints"], c["delivered"]),
    "text_message_roi": lambda c: _ratio(c["conversion_value"], c["text_message_spend"]),
    "unsubscribe_rate": lambda c: _ratio(c["unsubscribe_uniques"], c["delivered"]),
    "bounced_or_failed": lambda c: c["bounced"] + c["failed"],
}
FORM_RATES: dict[str, Callable[[dict[str, float]], float]] = {
    "submit_rate": lambda c: _ratio(c["submits"], c["viewed_form_uniques"]),
}
SEGMENT_RATES: dict[str, Callable[[dict[str, float]], float]] = {
    "net_members_changed": lambda c: c["members_added"] - c["members_removed"],
}
RATES = {"campaign": MESSAGE_RATES, "flow": MESSAGE_RATES, "form": FORM_RATES}
RATES["segment"] = SEGMENT_RATES


def statistic(family: str, name: str, counts: dict[str, float]) -> float:
    derived = RATES[family].get(name)
    value = derived(counts) if derived else counts.get(name, 0.0)
    return float(value)


class Results(FactBuilder):
    """``ReportEngine``'s results, from the facts its builders compute."""

    @staticmethod
    def _matches(fact: Fact, conditions: list[Condition]) -> bool:
        for condition in conditions:
            if condition.field in ("tag_id", "tag_name"):
                have = {t[0] if condition.field == "tag_id" else t[1] for t in fact.tags}
                wanted = set(condition.value if isinstance(condition.value, list) else [])
                if condition.operator == "contains-all" and not wanted <= have:
                    return False
                if condition.operator == "contains-any" and not wanted & have:
                    return False
                continue
            value = fact.groupings.get(condition.field)
            if isinstance(condition.value, list):
                if value not in condition.value:
                    return False
            elif value != condition.value:
                return False
        return True

    @staticmethod
    def _expand(fact: Fact, group_by: list[str]) -> list[dict[str, Any]]:
        """The fact's grouping values; one per tag when grouping by tag."""
        base = {
            name: fact.groupings.get(name)
            for name in group_by
            if name not in ("tag_id", "tag_name")
        }
        if "tag_id" not in group_by and "tag_name" not in group_by:
            return [base]
        rows = []
        for tag_id, tag_name in fact.tags or [(None, None)]:
            row = dict(base)
            if "tag_id" in group_by:
                row["tag_id"] = tag_id
            if "tag_name" in group_by:
                row["tag_name"] = tag_name
            rows.append(row)
        return rows

    def buckets(self, query: Query) -> list[tuple[date, date]]:
        """Series intervals over the timeframe: (first day, last day) inside it."""
        interval = query.interval or "daily"
        spans = []
        day = query.first_day
        while day <= query.last_day:
            if interval in ("daily", "hourly"):
                end = day
            elif interval == "weekly":
                end = day + timedelta(days=6 - day.weekday())
            else:
                end = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
            end = min(end, query.last_day)
            spans.append((day, end))
            day = end + timedelta(days=1)
        return spans

    def results(self, query: Query) -> tuple[list[dict[str, Any]], list[str] | None]:
        facts = [f for f in self.facts(query) if self._matches(f, query.conditions)]
        zone = account_zone(self.data)
        grouped: dict[str, tuple[dict[str, Any], list[Fact]]] = {}
        for fact in facts:
            for groupings in self._expand(fact, query.group_by):
                key = json.dumps(groupings, sort_keys=True, default=str)
                grouped.setdefault(key, (groupings, []))[1].append(fact)
        ordered = sorted(
            grouped.values(),
            key=lambda item: [
                "" if item[0].get(g) is None else str(item[0].get(g)) for g in query.group_by
            ],
        )
        if query.kind == "values":
            results = [
                {"groupings": groupings, "statistics": self._combine(query, group)}
                for groupings, group in ordered
            ]
            return results, None
        spans = self.buckets(query)
        date_times: list[str] = []
        hourly = query.interval == "hourly"
        for first, _ in spans:
            for hour in range(24) if hourly else (0,):
                moment = datetime.combine(first, time(hour)).replace(tzinfo=zone)
                date_times.append(moment.isoformat())
        results = []
        for groupings, group in ordered:
            series: dict[str, list[float]] = {name: [] for name in query.statistics}
            for first, last in spans:
                inside = [f for f in group if first <= f.day <= last]
                for hour in range(24) if hourly else (0,):
                    # Hourly series put each day's activity in its 10 o'clock hour.
                    chosen = inside if not hourly or hour == 10 else []
                    combined = self._combine(query, chosen)
                    for name in query.statistics:
                        series[name].append(combined[name])
            results.append({"groupings": groupings, "statistics": series})
        return results, date_times

    @staticmethod
    def _combine(query: Query, facts: list[Fact]) -> dict[str, float]:
        counts: dict[str, float] = {}
        last_day: dict[str, date] = {}
        for fact in facts:
            for name, value in fact.counts.items():
                if name in LAST_VALUE:
                    if fact.day >= last_day.get(name, date.min):
                        last_day[name] = fact.day
                        counts[name] = value
                else:
                    counts[name] = counts.get(name, 0.0) + value
        for name in list(counts):
            counts[name] = round(counts[name], 4)
        return {
            name: round(statistic(query.family, name, _Defaulting(counts)), 6)
            for name in query.statistics
        }


class _Defaulting(dict):  # type: ignore[type-arg]
    """Counts where a statistic the facts never mention is zero."""

    def __missing__(self, key: str) -> float:
        return 0.0
