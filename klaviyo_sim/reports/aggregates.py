"""``POST /api/metric-aggregates``: the body's time range, dimensions and timezone, then the
event counts, sums and unique profiles per interval and per ``by`` value."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..data import SimData
from ..filters import Condition, DateTimeValue, FilterError, parse_filter
from ..spec import Operation
from .body import BodyError
from .dates import add_months, parse_instant

METRIC_AGGREGATE_MAX_PAGE_SIZE = 500
# The spec: "a few notable exceptions are `Factory`, `Europe/Kyiv` and `Pacific/Kanton`".
UNSUPPORTED_TIMEZONES = frozenset({"Factory", "Europe/Kyiv", "Pacific/Kanton"})


class MetricAggregates:
    """``ReportEngine``'s metric aggregates."""

    data: SimData

    def metric_aggregate(
        self, op: Operation, attributes: dict[str, Any], default_page_size: int | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
        """(query, rows, page size) for a metric-aggregate body; ``default_page_size``
        replaces the spec's default of 500 for bodies without ``page_size``."""
        rules = (op.request_body or {}).get("attributes", {})
        metric_id = attributes["metric_id"]
        if self.data.stored_one("metric", metric_id) is None:
            raise BodyError(f"Metric '{metric_id}' does not exist.", "/data/attributes/metric_id")
        measurements = attributes["measurements"]
        if not measurements:
            raise BodyError(
                "At least one measurement is required.", "/data/attributes/measurements"
            )
        interval = attributes.get("interval") or rules.get("interval", {}).get("default") or "day"
        page_size = attributes.get("page_size")
        if page_size is None:
            page_size = default_page_size or (
                rules.get("page_size", {}).get("default") or METRIC_AGGREGATE_MAX_PAGE_SIZE
            )
        if not 1 <= page_size <= METRIC_AGGREGATE_MAX_PAGE_SIZE:
            raise BodyError(
                f"page_size must be between 1 and {METRIC_AGGREGATE_MAX_PAGE_SIZE}.",
                "/data/attributes/page_size",
            )
        zone_name = attributes.get("timezone") or "UTC"
        try:
            if zone_name in UNSUPPORTED_TIMEZONES:
                raise ZoneInfoNotFoundError(zone_name)
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BodyError(
                f"'{zone_name}' is not a supported timezone.", "/data/attributes/timezone"
            ) from None
        by = attributes.get("by") or []
        allowed_by = set(rules.get("by", {}).get("enum") or [])
        start = end = None
        dimension_filters: list[Condition] = []
        for index, text in enumerate(attributes["filter"]):
            pointer = f"/data/attributes/filter/{index}"
            if not isinstance(text, str):
                raise BodyError("Each filter is a string.", pointer)
            try:
                conditions = parse_filter(text)
            except FilterError as exc:
                raise BodyError(str(exc), pointer) from None
            for condition in conditions:
                if condition.field == "datetime":
                    if not isinstance(condition.value, DateTimeValue):
                        raise BodyError("datetime filters take a date-time.", pointer)
                    moment = parse_instant(condition.value.text)
                    if moment is None:
                        raise BodyError("datetime filters take a date-time.", pointer)
                    if moment.tzinfo is None:
                        moment = moment.replace(tzinfo=zone)
                    if condition.operator == "greater-or-equal" and start is None:
                        start = moment
                    elif condition.operator == "less-than" and end is None:
                        end = moment
                    else:
                        raise BodyError(
                            "The time range is one greater-or-equal and one less-than filter "
                            "on datetime.",
                            pointer,
                        )
                elif condition.field in allowed_by:
                    if condition.operator not in ("equals", "any"):
                        raise BodyError(
                            f"'{condition.operator}' is not supported on {condition.field}.",
                            pointer,
                        )
                    dimension_filters.append(condition)
                else:
                    raise BodyError(f"'{condition.field}' cannot be filtered on.", pointer)
        if start is None or end is None:
            raise BodyError(
                "The filter must include a time range: greater-or-equal(datetime,...) and "
                "less-than(datetime,...).",
                "/data/attributes/filter",
            )
        if end <= start:
            raise BodyError("The time range is empty.", "/data/attributes/filter")
        query = {
            "metric_id": metric_id,
            "measurements": measurements,
            "interval": interval,
            "zone": zone,
            "by": by,
            "start": start,
            "end": end,
            "filters": dimension_filters,
            "sort": attributes.get("sort"),
        }
        return query, self._aggregate(query), page_size

    def aggregate_dates(self, query: dict[str, Any]) -> list[datetime]:
        zone, interval = query["zone"], query["interval"]
        local = query["start"].astimezone(zone)
        if interval == "hour":
            first = local.replace(minute=0, second=0, microsecond=0)
        else:
            first = datetime.combine(local.date(), time(), tzinfo=zone)
            if interval == "week":
                first -= timedelta(days=first.weekday())
            elif interval == "month":
                first = first.replace(day=1)
        dates = []
        current = first
        while current < query["end"]:
            dates.append(current)
            if interval == "hour":
                current = (current.astimezone(timezone.utc) + timedelta(hours=1)).astimezone(zone)
            elif interval == "day":
                current = datetime.combine(current.date() + timedelta(days=1), time(), zone)
            elif interval == "week":
                current = datetime.combine(current.date() + timedelta(days=7), time(), zone)
            else:
                current = datetime.combine(add_months(current.date(), 1), time(), zone)
        return dates

    def _aggregate(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        dates = self.aggregate_dates(query)
        width = len(dates)
        rows: dict[tuple[str, ...], dict[str, Any]] = {}
        if not query["by"]:
            # Without a group-by there is always one row, zeros included.
            rows[()] = _empty_row(width)
        for event in self.data.stored("event").values():
            links = self.data.links_of("event", event["id"])
            if ("metric", query["metric_id"]) not in links.get("metric", {}):
                continue
            moment = parse_instant(event["attributes"].get("datetime"))
            if moment is None or not query["start"] <= moment < query["end"]:
                continue
            properties = event["attributes"].get("event_properties") or {}
            dims = tuple(_dimension(properties.get(name)) for name in query["by"])
            if not all(c.matches([_dimension(properties.get(c.field))]) for c in query["filters"]):
                continue
            index = sum(1 for d in dates if d <= moment) - 1
            if index < 0:
                continue
            row = rows.get(dims) or rows.setdefault(dims, _empty_row(width))
            row["count"][index] += 1
            value = properties.get("$value")
            if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
                row["sum"][index] = round(row["sum"][index] + float(value), 2)
            profile = next(iter(links.get("profile", {})), None)
            row["unique"][index].add(profile[1] if profile else event["id"])
        out = []
        for dims, row in rows.items():
            measured = {}
            for name in query["measurements"]:
                if name == "count":
                    measured[name] = [float(v) for v in row["count"]]
                elif name == "sum_value":
                    measured[name] = [float(v) for v in row["sum"]]
                else:
                    measured[name] = [float(len(v)) for v in row["unique"]]
            out.append({"dimensions": list(dims), "measurements": measured})
        sort = query.get("sort")
        if sort and sort.lstrip("-") in query["by"]:
            position = query["by"].index(sort.lstrip("-"))
            out.sort(key=lambda r: r["dimensions"][position], reverse=sort.startswith("-"))
        else:
            out.sort(key=lambda r: r["dimensions"])
        return out


def _empty_row(width: int) -> dict[str, Any]:
    return {"count": [0] * width, "sum": [0.0] * width, "unique": [set() for _ in range(width)]}


def _dimension(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
