"""User-defined metric aggregates (``POST /api/metric-aggregates``): one partition and
bookmark per query, one record per query, date and dimension values."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from singer_sdk.helpers.types import Context
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_klaviyo.dates import named_zone
from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.streams.reporting import calendar
from tap_klaviyo.streams.reporting.base import ReportingStream
from tap_klaviyo.streams.reporting.calendar import DayRange

# The longest timeframe one request may cover, by interval.
RANGE_DAYS = {"hour": 31, "day": 366, "week": 366, "month": 366}


def dimension_column(name: str) -> str:
    """``$attributed_message`` -> ``by_attributed_message``, ``Campaign Name`` ->
    ``by_campaign_name``: one column per group-by dimension."""
    return "by_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


class MetricAggregatesStream(ReportingStream):
    """The queries of the ``metric_aggregates`` setting."""

    name = "metric_aggregates"
    path = "/api/metric-aggregates"
    primary_keys = ("query", "datetime", "dimensions_key")
    state_partitioning_keys = ["query"]

    @classmethod
    def schema_columns(cls) -> dict[str, dict[str, Any]]:
        return {
            "query": {"type": ["string"]},
            "metric_id": {"type": ["string"]},
            "interval": {"type": ["string"]},
            "timezone": {"type": ["string"]},
            "datetime": {"type": ["string"], "format": "date-time"},
            "date": {"type": ["string"], "format": "date"},
            "dimensions": {"type": ["array"], "items": {"type": ["string", "null"]}},
            "dimensions_key": {"type": ["string"]},
        }

    @property
    def queries(self) -> dict[str, dict[str, Any]]:
        return {q["name"]: q for q in self.settings.metric_aggregates}

    @property
    def partitions(self) -> list[dict[str, Any]] | None:
        return [{"query": name} for name in self.queries]

    def query_zone(self, query: dict[str, Any]) -> ZoneInfo:
        configured = query.get("timezone")
        if configured:
            return named_zone(str(configured), "metric_aggregates.timezone")
        return self.zone

    def query_metric_id(self, query: dict[str, Any]) -> str:
        if query.get("metric_id"):
            return str(query["metric_id"])
        metric = self.metric_by_name(str(query["metric_name"]), pick_first=False)
        if metric is None:
            known = sorted({str(m.get("name")) for m in self.metrics()})
            raise KlaviyoError(
                f"Stream '{self.name}': query {query['name']!r} names metric "
                f"{query['metric_name']!r}, which the account does not have "
                f"(it has: {', '.join(known) or 'none'})."
            )
        return str(metric["id"])

    def day_ranges(self, context: Context, query: dict[str, Any]) -> list[DayRange]:
        interval = query.get("interval") or "day"
        zone = self.query_zone(query)
        last = self.last_day(zone)
        period = {"week": "week", "month": "month"}.get(interval, "day")
        first = calendar.period_start(self.first_day(context, None, zone), period)
        if first > last:
            return []
        return calendar.chunk_ranges(first, last, RANGE_DAYS[interval])

    def request_document(
        self, query: dict[str, Any], metric_id: str, days: DayRange, cursor: str | None
    ) -> dict[str, Any]:
        zone = self.query_zone(query)
        end = days.last + timedelta(days=1)
        attributes: dict[str, Any] = {
            "metric_id": metric_id,
            "measurements": list(query.get("measurements") or ["count"]),
            "interval": query.get("interval") or "day",
            # Wall-clock times in `timezone`, as the spec's example writes them.
            "filter": [
                f"greater-or-equal(datetime,{days.first.isoformat()}T00:00:00)",
                f"less-than(datetime,{end.isoformat()}T00:00:00)",
                *(query.get("filter") or []),
            ],
            "timezone": zone.key,
        }
        if query.get("by"):
            attributes["by"] = list(query["by"])
        if cursor:
            attributes["page_cursor"] = cursor
        return {"data": {"type": "metric-aggregate", "attributes": attributes}}

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Always ``POST /api/metric-aggregates``: the spec takes the cursor in the body."""
        context = page.stream_context or {}
        return HTTPRequest(
            url=self.get_url(None),
            method=self.http_method,
            headers=self.http_headers,
            data=self.request_document(
                context["query_config"], context["metric_id"], context["days"], page.next_page_token
            ),
        )

    def get_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        if not context or context.get("query") not in self.queries:
            if not self.queries:
                self.logger.warning(
                    "Stream '%s' is selected but no `metric_aggregates` queries are set.",
                    self.name,
                )
            return
        query = self.queries[context["query"]]
        metric_id = self.query_metric_id(query)
        zone = self.query_zone(query)
        ranges = self.day_ranges(context, query)
        self.logger.info(
            "Stream '%s', query %r: %d request(s) for %s",
            self.name,
            query["name"],
            len(ranges),
            f"{ranges[0].first}..{ranges[-1].last}" if ranges else "nothing (up to date)",
        )
        position = 0

        def attempt(restarted: bool) -> Iterator[dict[str, Any]]:
            nonlocal position
            while position < len(ranges):
                days = ranges[position]
                request_context = {"query_config": query, "metric_id": metric_id, "days": days}
                for body in self.post_pages(request_context, _next_cursor):
                    yield from self.rows(body, query, metric_id)
                self.advance(context, days.last, zone)
                position += 1

        def again() -> str:
            days = ranges[position]
            return f"reading {days.first}..{days.last} again"

        yield from self.read_recovering(attempt, again)

    def rows(
        self, body: dict[str, Any], query: dict[str, Any], metric_id: str
    ) -> Iterator[dict[str, Any]]:
        data = body.get("data")
        attributes = data.get("attributes") if isinstance(data, dict) else None
        if not isinstance(attributes, dict):
            raise KlaviyoError(f"Stream '{self.name}': the response has no `data.attributes`.")
        dates = attributes.get("dates") or []
        by = list(query.get("by") or [])
        for row in attributes.get("data") or []:
            dimensions = list(row.get("dimensions") or [])
            measurements = row.get("measurements") or {}
            base: dict[str, Any] = {
                "query": query["name"],
                "metric_id": metric_id,
                "interval": query.get("interval") or "day",
                "timezone": self.query_zone(query).key,
                "dimensions": dimensions,
                "dimensions_key": json.dumps(dimensions, ensure_ascii=False),
            }
            for name, value in zip(by, dimensions, strict=False):
                base[dimension_column(name)] = value
            for index, moment in enumerate(dates):
                record = dict(base, datetime=moment, date=str(moment)[:10])
                for name, values in measurements.items():
                    if isinstance(values, list) and index < len(values):
                        record[name] = values[index]
                yield record


def _next_cursor(body: dict[str, Any]) -> str | None:
    """The cursor of a metric-aggregates ``links.next``: its ``page_cursor`` parameter,
    or the value itself when it is not a URL."""
    link = (body.get("links") or {}).get("next")
    if not link:
        return None
    text = str(link)
    parts = urlsplit(text)
    if parts.scheme and parts.netloc:
        found = parse_qs(parts.query).get("page_cursor")
        return found[0] if found else None
    return text
