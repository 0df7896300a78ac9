"""The Reporting API's values and series reports, one stream per endpoint.

A run plans its day ranges up front against the endpoint's daily budget, reads them
in order, moves the bookmark after each, and stops cleanly (resumable) when the
budget or Klaviyo's daily quota is spent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar

import requests
from singer_sdk.helpers.types import Context
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_klaviyo import spec
from tap_klaviyo.dates import CLOCK
from tap_klaviyo.errors import KlaviyoError, ThrottledTooLong
from tap_klaviyo.plan import Cost
from tap_klaviyo.streams.reporting import calendar
from tap_klaviyo.streams.reporting.base import ReportingStream, integration_name
from tap_klaviyo.streams.reporting.calendar import DayRange
from tap_klaviyo.streams.reporting.quota import Plan, RequestLedger

SERIES_INTERVAL = "daily"
PLACED_ORDER = "Placed Order"


class BudgetSpent(Exception):
    """The ledger has no request left for this endpoint in the last 24 hours."""


class ReportStream(ReportingStream):
    """One Reporting API endpoint: ``values`` or ``series`` for a family of messages."""

    family: ClassVar[str]
    kind: ClassVar[str]  # "values" or "series"
    # Grouping columns, in primary-key order; ``group_by`` is what the body asks for
    # (None: the endpoint takes no group_by, e.g. segments group by segment_id).
    grouping_columns: ClassVar[tuple[str, ...]]
    group_by: ClassVar[tuple[str, ...] | None]
    conversion_metric: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "kind", None):
            period = ("period",) if cls.kind == "values" else ()
            cls.primary_keys = (*cls.grouping_columns, *period, "date")

    @classmethod
    def schema_columns(cls) -> dict[str, dict[str, Any]]:
        """Columns besides the groupings and statistics (for scripts/generate_schemas.py)."""
        columns: dict[str, dict[str, Any]] = {"date": {"type": ["string"], "format": "date"}}
        if cls.kind == "values":
            columns["through_date"] = {"type": ["string"], "format": "date"}
            columns["period"] = {"type": ["string"]}
        else:
            columns["datetime"] = {"type": ["string"], "format": "date-time"}
        if cls.conversion_metric:
            columns["conversion_metric_id"] = {"type": ["string", "null"]}
        return columns

    @cached_property
    def rules(self) -> dict[str, Any]:
        return spec.request_body(self.operation.operation_id)["rules"]

    @property
    def statistics(self) -> list[str]:
        return list(self.settings.statistics(self.family))

    @property
    def period(self) -> str:
        return str(self.settings.reporting_values_period)

    @property
    def data_floor(self) -> date | None:
        starts = self.rules.get("data_starts")
        return date.fromisoformat(starts) if starts else None

    @cached_property
    def conversion_metric_id(self) -> str | None:
        if not self.conversion_metric:
            return None
        configured = self.settings.conversion_metric_id
        if configured:
            return str(configured)
        found = [m for m in self.metrics() if m.get("name") == PLACED_ORDER]
        metric = self.metric_by_name(PLACED_ORDER, pick_first=True)
        if metric is None:
            raise KlaviyoError(
                f"Stream '{self.name}' needs a conversion metric and the account has no "
                f"{PLACED_ORDER!r} metric: set `conversion_metric_id`."
            )
        if len(found) > 1:
            self.logger.warning(
                "Stream '%s': %d metrics are named %r (%s); using the oldest, %s. Set "
                "`conversion_metric_id` to choose.",
                self.name,
                len(found),
                PLACED_ORDER,
                ", ".join(f"{m['id']} ({integration_name(m)})" for m in found),
                metric["id"],
            )
        else:
            self.logger.info(
                "Stream '%s': conversions are %r events (metric %s)",
                self.name,
                PLACED_ORDER,
                metric["id"],
            )
        return str(metric["id"])

    # ---- planning -----------------------------------------------------------------------

    @property
    def budget(self) -> int | None:
        daily = self.operation.daily
        if not daily:
            return None
        return min(int(self.settings.reporting_daily_request_budget), daily)

    @property
    def steady_per_minute(self) -> int:
        return self.settings.quota_per_minute(self.operation.steady_per_minute or 60)

    @property
    def ledger(self) -> RequestLedger:
        return RequestLedger(self.get_context_state(None))

    def day_ranges(self) -> list[DayRange]:
        first = self.first_day(None, self.data_floor)
        last = self.last_day()
        if first > last:
            return []
        if self.kind == "values":
            return calendar.period_ranges(first, last, self.period, self._range_floor())
        days = self.rules.get("interval_max_days", {}).get(SERIES_INTERVAL, 60)
        return calendar.chunk_ranges(first, last, days)

    def _range_floor(self) -> date | None:
        floors = [d for d in (self.data_floor,) if d]
        if self.settings.reporting_start_date:
            floors.append(self.initial_day())
        return max(floors) if floors else None

    def plan(self) -> Plan:
        now = CLOCK.now()
        ranges = self.day_ranges()
        budget = self.budget
        ledger = self.ledger
        used = ledger.used(now)
        blocked = ledger.blocked_until(now)
        runnable = len(ranges)
        if blocked is not None:
            runnable = 0
        elif budget is not None:
            runnable = max(0, min(runnable, budget - used))
        return Plan(
            stream=self.name,
            endpoint=f"POST {self.path}",
            ranges=ranges,
            runnable=runnable,
            budget=budget,
            used=used,
            steady_per_minute=self.steady_per_minute,
            blocked_until=blocked,
        )

    def planned_cost(self) -> Cost:
        """The run's plan line (plan.py): this stream knows its requests exactly."""
        return self.plan().cost()

    # ---- requests -----------------------------------------------------------------------

    def request_document(self, days: DayRange) -> dict[str, Any]:
        zone = self.zone
        attributes: dict[str, Any] = {
            "statistics": self.statistics,
            # Both end days count whole: 00:00:00 of the first, 23:59:59 of the last.
            "timeframe": {
                "start": calendar.local_midnight(days.first, zone).isoformat(),
                "end": calendar.local_end_of_day(days.last, zone).isoformat(),
            },
        }
        if self.kind == "series":
            attributes["interval"] = SERIES_INTERVAL
        if self.group_by is not None:
            attributes["group_by"] = list(self.group_by)
        if self.conversion_metric:
            attributes["conversion_metric_id"] = self.conversion_metric_id
        return {"data": {"type": self.operation.resource_type, "attributes": attributes}}

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """The POST for one day range; a next page goes to Klaviyo's ``links.next``
        (which carries ``page_cursor``) with the same body."""
        days = (page.stream_context or {})["days"]
        return HTTPRequest(
            url=str(page.next_page_token or self.get_url(None)),
            method=self.http_method,
            headers=self.http_headers,
            data=self.request_document(days),
        )

    def get_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        plan = self.plan()
        if plan.blocked_until is not None:
            return
        position = 0

        def attempt(restarted: bool) -> Iterator[dict[str, Any]]:
            # A restart (a cursor that expired between pages) reads the current range
            # again; the ranges before it are done.
            nonlocal position
            while position < len(plan.ranges):
                days = plan.ranges[position]
                if position >= plan.runnable:
                    self._stop_for_budget(plan, days)
                    return
                try:
                    yield from self.read_range(days)
                except ThrottledTooLong as exc:
                    self._stop_for_quota(days, exc.wait)
                    return
                except BudgetSpent:
                    self._stop_for_budget(plan, days)
                    return
                self.advance(None, days.last)
                position += 1

        def again() -> str:
            days = plan.ranges[position]
            return f"reading {days.first}..{days.last} again"

        yield from self.read_recovering(attempt, again)

    def read_range(self, days: DayRange) -> Iterator[dict[str, Any]]:
        for body in self.post_pages(
            {"days": days},
            lambda body: (body.get("links") or {}).get("next") or None,
            send=self.counted_send,
        ):
            yield from self.rows(body, days)

    def counted_send(self, prepared: requests.PreparedRequest) -> requests.Response:
        """Send one request the daily budget still has room for, counted in the ledger."""
        now = CLOCK.now()
        ledger = self.ledger
        if self.budget is not None and ledger.used(now) >= self.budget:
            raise BudgetSpent
        ledger.count(now)
        try:
            return self.send(prepared)
        except ThrottledTooLong:
            ledger.uncount(now)
            raise

    def rows(self, body: dict[str, Any], days: DayRange) -> Iterator[dict[str, Any]]:
        fixed: dict[str, Any] = {}
        if self.conversion_metric:
            fixed["conversion_metric_id"] = self.conversion_metric_id
        if self.kind == "values":
            fixed.update(
                date=days.first.isoformat(), through_date=days.last.isoformat(), period=self.period
            )
        return report_rows(
            self.name, body, days, self.kind, self.grouping_columns, set(self.statistics), fixed
        )

    # ---- stopping cleanly -----------------------------------------------------------------

    def _stop_for_budget(self, plan: Plan, days: DayRange) -> None:
        self.logger.warning(
            "Stream '%s': the daily request budget for %s is spent "
            "(reporting_daily_request_budget=%s, %d requests in the last 24 h); stopping "
            "before %s..%s. The state keeps every finished window and the next run continues "
            "from there once requests age out of the 24-hour window.",
            self.name,
            plan.endpoint,
            plan.budget,
            self.ledger.used(CLOCK.now()),
            days.first,
            days.last,
        )

    def _stop_for_quota(self, days: DayRange, wait: float) -> None:
        until: datetime = CLOCK.now() + timedelta(seconds=wait)
        self.ledger.block(until)
        self.state_manager.is_flushed = False
        self.write_state()
        self.logger.warning(
            "Stream '%s': Klaviyo's daily quota for POST %s is spent (429, Retry-After %.1f h, "
            "longer than max_retry_after_seconds=%.0f); stopping before %s..%s. The state "
            "keeps every finished window; the next run after %s UTC continues from there. "
            "Other streams go on.",
            self.name,
            self.path,
            wait / 3600,
            self.max_retry_after,
            days.first,
            days.last,
            f"{until:%Y-%m-%d %H:%M}",
        )


def report_rows(
    stream: str,
    body: dict[str, Any],
    days: DayRange,
    kind: str,
    grouping_columns: tuple[str, ...],
    wanted: set[str],
    fixed: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """A report body's rows: one per grouping (values), or per grouping and day of the
    range (series), with the statistics asked for and the ``fixed`` columns."""
    data = body.get("data")
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict) or not isinstance(attributes.get("results"), list):
        raise KlaviyoError(f"Stream '{stream}': the response has no `data.attributes.results`.")
    if kind == "values":
        for result in attributes["results"]:
            groupings, statistics = _result_parts(stream, result)
            row = {c: groupings.get(c) for c in grouping_columns}
            row.update({k: v for k, v in statistics.items() if k in wanted})
            row.update(fixed)
            yield row
        return
    date_times = attributes.get("date_times")
    if not isinstance(date_times, list):
        raise KlaviyoError(f"Stream '{stream}': the response has no `date_times`.")
    first, last = days.first.isoformat(), days.last.isoformat()
    for result in attributes["results"]:
        groupings, statistics = _result_parts(stream, result)
        base = {c: groupings.get(c) for c in grouping_columns}
        for index, moment in enumerate(date_times):
            day = str(moment)[:10]
            if not first <= day <= last:
                continue
            row = dict(base)
            for name, values in statistics.items():
                if name in wanted and isinstance(values, list) and index < len(values):
                    row[name] = values[index]
            row.update(fixed, datetime=moment, date=day)
            yield row


def _result_parts(stream: str, result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    groupings = result.get("groupings") if isinstance(result, dict) else None
    statistics = result.get("statistics") if isinstance(result, dict) else None
    if not isinstance(groupings, dict) or not isinstance(statistics, dict):
        raise KlaviyoError(f"Stream '{stream}': a report result lacks `groupings` or `statistics`.")
    return groupings, statistics


class CampaignValuesReportsStream(ReportStream):
    name = "campaign_values_reports"
    path = "/api/campaign-values-reports"
    family = "campaign"
    kind = "values"
    grouping_columns = ("campaign_id", "campaign_message_id", "send_channel")
    group_by = grouping_columns
    conversion_metric = True


class FlowValuesReportsStream(ReportStream):
    name = "flow_values_reports"
    path = "/api/flow-values-reports"
    family = "flow"
    kind = "values"
    grouping_columns = ("flow_id", "flow_message_id", "send_channel")
    group_by = grouping_columns
    conversion_metric = True


class FlowSeriesReportsStream(ReportStream):
    name = "flow_series_reports"
    path = "/api/flow-series-reports"
    family = "flow"
    kind = "series"
    grouping_columns = ("flow_id", "flow_message_id", "send_channel")
    group_by = grouping_columns
    conversion_metric = True


class FormValuesReportsStream(ReportStream):
    name = "form_values_reports"
    path = "/api/form-values-reports"
    family = "form"
    kind = "values"
    grouping_columns = ("form_id", "form_version_id")
    group_by = grouping_columns


class FormSeriesReportsStream(ReportStream):
    name = "form_series_reports"
    path = "/api/form-series-reports"
    family = "form"
    kind = "series"
    grouping_columns = ("form_id", "form_version_id")
    group_by = grouping_columns


class SegmentValuesReportsStream(ReportStream):
    name = "segment_values_reports"
    path = "/api/segment-values-reports"
    family = "segment"
    kind = "values"
    grouping_columns = ("segment_id",)
    group_by = None


class SegmentSeriesReportsStream(ReportStream):
    name = "segment_series_reports"
    path = "/api/segment-series-reports"
    family = "segment"
    kind = "series"
    grouping_columns = ("segment_id",)
    group_by = None
