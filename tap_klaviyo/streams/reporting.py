"""Klaviyo's Reporting API and metric aggregates, read as incremental, quota-aware streams.

Report endpoints answer POSTs with aggregates over a timeframe: "values" (one number per
grouping) or "series" (one number per grouping and interval). They allow 1 request/s,
2/min and 225/day per account and endpoint, so each run:

* aligns its windows to whole days in the account's timezone (``GET /api/accounts``), asks
  for ``start 00:00:00`` to ``end 23:59:59`` local time (the endpoints count both end days of
  a timeframe, so a window never overlaps the next one) and reads complete days only;
* re-reads ``reporting_lookback_days`` before its bookmark, because attribution keeps
  changing for days; records keep stable primary keys (groupings and day), so targets upsert;
* counts its requests per endpoint in the state (the last 24 hours), plans them up front,
  logs how long they take, and stops a stream cleanly when ``reporting_daily_request_budget``
  or Klaviyo's daily quota is spent: the bookmark covers every finished window, the next run
  continues from there and the other streams are not affected.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from singer_sdk.helpers.types import Context
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_klaviyo import spec
from tap_klaviyo.client import KlaviyoStream
from tap_klaviyo.dates import CLOCK, parse_datetime
from tap_klaviyo.errors import KlaviyoAPIError, KlaviyoError, ThrottledTooLong
from tap_klaviyo.transport.jsonapi import response_json
from tap_klaviyo.transport.ratelimit import window_seconds

DEFAULT_HISTORY_DAYS = 90
DEFAULT_LOOKBACK_DAYS = 7
DEFAULT_DAILY_REQUEST_BUDGET = 150
DEFAULT_VALUES_PERIOD = "day"
PERIODS = ("day", "week", "month")
SERIES_INTERVAL = "daily"
QUOTA_WINDOW = timedelta(hours=24)
# A report window that pages more than this is surely looping on a bad cursor.
MAX_PAGES_PER_WINDOW = 1000
METRIC_AGGREGATE_WINDOW_DAYS = {"hour": 31, "day": 366, "week": 366, "month": 366}
PLACED_ORDER = "Placed Order"

DEFAULT_STATISTICS: dict[str, tuple[str, ...]] = {
    "campaign": (
        "recipients",
        "delivered",
        "bounced",
        "opens",
        "opens_unique",
        "open_rate",
        "clicks",
        "clicks_unique",
        "click_rate",
        "conversions",
        "conversion_uniques",
        "conversion_value",
        "conversion_rate",
        "revenue_per_recipient",
        "unsubscribe_uniques",
        "spam_complaints",
    ),
    "form": (
        "viewed_form",
        "viewed_form_uniques",
        "submits",
        "submit_rate",
        "closed_form",
        "closed_form_uniques",
    ),
    "segment": ("members_added", "members_removed", "net_members_changed", "total_members"),
}
DEFAULT_STATISTICS["flow"] = DEFAULT_STATISTICS["campaign"]
# The operation whose statistics enum each family's setting is checked against.
FAMILY_OPERATIONS = {
    "campaign": "query_campaign_values",
    "flow": "query_flow_values",
    "form": "query_form_values",
    "segment": "query_segment_values",
}


def statistics_setting(family: str) -> str:
    return f"reporting_{family}_statistics"


# ---- settings ----------------------------------------------------------------------------


def statistics_enum(family: str) -> list[str]:
    body = spec.request_body(FAMILY_OPERATIONS[family])
    return list(body["attributes"]["statistics"]["enum"] or [])


def metric_aggregate_enums() -> dict[str, list[str]]:
    attributes = spec.request_body("query_metric_aggregates")["attributes"]
    return {
        "measurements": list(attributes["measurements"]["enum"] or []),
        "interval": list(attributes["interval"]["enum"] or []),
        "by": list(attributes["by"]["enum"] or []),
    }


def _zone(name: str, setting: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise KlaviyoError(
            f"Setting `{setting}` is not an IANA timezone: {name!r} (example: Europe/Berlin)."
        ) from None


def check_reporting_settings(config: dict[str, Any], error: type[Exception]) -> None:
    """Reject bad reporting settings before any request, each with a one-line reason."""
    for family in FAMILY_OPERATIONS:
        name = statistics_setting(family)
        chosen = config.get(name)
        if chosen is None:
            continue
        allowed = statistics_enum(family)
        if not chosen:
            raise error(f"Setting `{name}` is empty: list at least one statistic.")
        unknown = [s for s in chosen if s not in allowed]
        if unknown:
            raise error(
                f"Setting `{name}` has statistics Klaviyo does not offer for {family} reports: "
                f"{', '.join(map(repr, unknown))}. Allowed: {', '.join(allowed)}."
            )
    period = config.get("reporting_values_period")
    if period not in (None, "") and period not in PERIODS:
        raise error(
            f"Setting `reporting_values_period` must be one of {', '.join(PERIODS)}, "
            f"got {period!r}."
        )
    for name in ("reporting_lookback_days", "reporting_daily_request_budget"):
        value = config.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise error(f"Setting `{name}` must be a whole number, got {value!r}.")
        if value is not None and value < (1 if name.endswith("budget") else 0):
            raise error(f"Setting `{name}` must be at least {1 if 'budget' in name else 0}.")
    for name in ("reporting_timezone",):
        if config.get(name):
            try:
                _zone(str(config[name]), name)
            except KlaviyoError as exc:
                raise error(str(exc)) from None
    start = config.get("reporting_start_date")
    if start not in (None, ""):
        try:
            parse_datetime(str(start))
        except ValueError:
            raise error(
                f"Setting `reporting_start_date` is not an RFC 3339 date-time: {start!r} "
                "(example: 2024-01-31T00:00:00Z)."
            ) from None
    _check_metric_aggregates(config.get("metric_aggregates"), error)


_QUERY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_DATETIME_TERM = re.compile(r"\(\s*datetime\s*,")
_QUERY_KEYS = {
    "name",
    "metric_id",
    "metric_name",
    "measurements",
    "interval",
    "by",
    "filter",
    "timezone",
}


def _check_metric_aggregates(queries: Any, error: type[Exception]) -> None:
    if queries in (None, []):
        return
    if not isinstance(queries, list):
        raise error("Setting `metric_aggregates` must be a list of queries.")
    enums = metric_aggregate_enums()
    names: set[str] = set()
    for index, query in enumerate(queries):
        where = f"`metric_aggregates[{index}]`"
        if not isinstance(query, dict):
            raise error(f"Setting {where} must be an object.")
        unknown = sorted(set(query) - _QUERY_KEYS)
        if unknown:
            raise error(
                f"Setting {where} has unknown keys {', '.join(unknown)} "
                f"(allowed: {', '.join(sorted(_QUERY_KEYS))})."
            )
        name = query.get("name")
        if not isinstance(name, str) or not _QUERY_NAME.match(name):
            raise error(
                f"Setting {where} needs a `name` of letters, digits, `_`, `.` or `-` "
                "(it keys the query's records and bookmark)."
            )
        if name in names:
            raise error(f"Setting `metric_aggregates` names {name!r} twice.")
        names.add(name)
        where = f"`metric_aggregates` query {name!r}"
        if bool(query.get("metric_id")) == bool(query.get("metric_name")):
            raise error(f"{where} needs exactly one of `metric_id` and `metric_name`.")
        for key, values in (("measurements", query.get("measurements")), ("by", query.get("by"))):
            if values is None:
                continue
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise error(f"{where}: `{key}` must be a list of strings.")
            bad = [v for v in values if v not in enums[key]]
            if bad:
                raise error(
                    f"{where}: `{key}` has {', '.join(map(repr, bad))}, which Klaviyo does not "
                    f"offer. Allowed: {', '.join(enums[key])}."
                )
        if query.get("measurements") == []:
            raise error(f"{where}: `measurements` is empty.")
        interval = query.get("interval")
        if interval is not None and interval not in enums["interval"]:
            raise error(
                f"{where}: `interval` must be one of {', '.join(enums['interval'])}, "
                f"got {interval!r}."
            )
        filters = query.get("filter")
        if filters is not None and (
            not isinstance(filters, list) or not all(isinstance(f, str) for f in filters)
        ):
            raise error(f"{where}: `filter` must be a list of filter strings.")
        if any(_DATETIME_TERM.search(f) for f in filters or []):
            raise error(
                f"{where}: `filter` must not bound `datetime`; the tap sets the time range "
                "itself (incremental windows)."
            )
        if query.get("timezone"):
            try:
                _zone(str(query["timezone"]), "metric_aggregates.timezone")
            except KlaviyoError as exc:
                raise error(f"{where}: {exc}") from None


# ---- what report streams share within one run ----------------------------------------------


@dataclass
class _Shared:
    lock: threading.Lock
    zone: ZoneInfo | None = None
    metrics: list[dict[str, Any]] | None = None
    plan_logged: bool = False


_SHARED: weakref.WeakKeyDictionary[Any, _Shared] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def shared(tap: Any) -> _Shared:
    with _SHARED_LOCK:
        found = _SHARED.get(tap)
        if found is None:
            found = _SHARED[tap] = _Shared(threading.Lock())
        return found


class _Lookup(KlaviyoStream):
    """A GET read only to look something up (the timezone, metric ids): never emitted."""

    schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}  # type: ignore[assignment]

    def all_records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for response in self.reader.responses(None, None, None):
            records.extend(self.page_records(response, None, None))
        return records


class _AccountLookup(_Lookup):
    name = "reporting_account_lookup"
    path = "/api/accounts"


class _MetricLookup(_Lookup):
    name = "reporting_metric_lookup"
    path = "/api/metrics"


# ---- windows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
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


def period_windows(first: date, last: date, period: str, floor: date | None) -> list[Window]:
    """Calendar periods (day, Monday-week, month) covering ``first``..``last``; the first
    one starts at its period's start (a period is always re-read whole), never before
    ``floor``; the last one may end before its period does (complete days only)."""
    windows = []
    day = period_start(first, period)
    if floor is not None and day < floor:
        day = floor
    while day <= last:
        end = min(period_end(day, period), last)
        windows.append(Window(day, end))
        day = end + timedelta(days=1)
    return windows


def chunk_windows(first: date, last: date, days: int) -> list[Window]:
    windows = []
    day = first
    while day <= last:
        end = min(day + timedelta(days=days - 1), last)
        windows.append(Window(day, end))
        day = end + timedelta(days=1)
    return windows


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def local_end_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone)


@dataclass
class Plan:
    """What one stream will request in this run, and what it leaves for later."""

    stream: str
    endpoint: str
    windows: list[Window]
    runnable: int
    budget: int | None
    used: int
    steady_per_minute: int
    blocked_until: datetime | None = None

    @property
    def seconds(self) -> float:
        return estimate_seconds(self.runnable, self.steady_per_minute)

    def describe(self) -> str:
        if not self.windows:
            return f"{self.stream}: up to date, no requests"
        first, last = self.windows[0].first, self.windows[-1].last
        partial = self.runnable < len(self.windows)
        text = (
            f"{self.stream}: {len(self.windows)} request(s) for {first}..{last} "
            f"({self.endpoint}, {self.steady_per_minute}/min)"
        )
        if not partial:
            text += f", about {_duration(self.seconds)}"
        if self.budget is not None:
            text += f"; {self.used} of the daily budget of {self.budget} used in the last 24 h"
        if self.blocked_until is not None:
            text += (
                f"; Klaviyo's daily quota is spent until {self.blocked_until:%Y-%m-%d %H:%M} "
                "UTC, so the stream waits for a later run"
            )
        elif partial:
            through = self.windows[self.runnable - 1].last if self.runnable else None
            text += (
                f"; only {self.runnable} fit the budget, so this run reads "
                + (f"through {through} (about {_duration(self.seconds)})" if through else "nothing")
                + " and a later run continues"
            )
        return text


def estimate_seconds(requests_count: int, steady_per_minute: int) -> float:
    """Time to send ``requests_count`` requests at ``steady_per_minute`` (the first
    minute's worth leaves at once)."""
    if requests_count <= 0:
        return 0.0
    # The tap's limiter treats each minute as a little longer (ratelimit.py).
    return (math.ceil(requests_count / max(1, steady_per_minute)) - 1) * window_seconds(60)


def parallel_seconds(durations: list[float], workers: int) -> float:
    """Wall time of independent jobs on ``workers`` threads, longest first."""
    loads = [0.0] * max(1, workers)
    for duration in sorted(durations, reverse=True):
        smallest = heapq.heappop(loads)
        heapq.heappush(loads, smallest + duration)
    return max(loads)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ---- the streams ------------------------------------------------------------------------


class _ReportingBase(KlaviyoStream):
    """What report streams and metric aggregates share: POST bodies, timezone, lookups."""

    rest_method = "POST"
    # They spend quotas other integrations on the account share (reports: 225 a day per
    # endpoint), so a user opts in.
    selected_by_default = False
    replication_key = "date"
    # Bookmarks move per finished window (``advance``), not per record: a window's
    # rows come in groupings order and the last days of it may have no rows at all.
    bookmarks_per_record = False

    @property
    def max_retry_after(self) -> float:
        return float(self.settings.max_retry_after_seconds)

    @cached_property
    def shared(self) -> _Shared:
        return shared(self.run_tap)

    @property
    def zone(self) -> ZoneInfo:
        """The account's timezone: report timeframes are read in it."""
        configured = self.config.get("reporting_timezone")
        if configured:
            return _zone(str(configured), "reporting_timezone")
        state = self.shared
        with state.lock:
            if state.zone is None:
                state.zone = self._lookup_zone()
            return state.zone

    def _lookup_zone(self) -> ZoneInfo:
        try:
            accounts = _AccountLookup(tap=self.run_tap).all_records()
        except KlaviyoAPIError as exc:
            if exc.status == 403:
                raise KlaviyoError(
                    f"Stream '{self.name}' needs the account's timezone, and the API key may "
                    "not read GET /api/accounts (scope accounts:read). Add the scope or set "
                    "`reporting_timezone`."
                ) from None
            raise
        name = next((a.get("timezone") for a in accounts if a.get("timezone")), None)
        if not name:
            raise KlaviyoError("GET /api/accounts gave no timezone; set `reporting_timezone`.")
        zone = _zone(str(name), "the account's timezone")
        self.logger.info("Report windows use the account's timezone %s", name)
        return zone

    def metrics(self) -> list[dict[str, Any]]:
        """Every metric of the account (id, name, created, integration), read once.

        ``GET /api/metrics`` cannot filter by name (only by integration), so it is scanned.
        """
        state = self.shared
        with state.lock:
            if state.metrics is None:
                try:
                    state.metrics = _MetricLookup(tap=self.run_tap).all_records()
                except KlaviyoAPIError as exc:
                    if exc.status != 403:
                        raise
                    raise KlaviyoError(
                        f"Stream '{self.name}' looks metrics up by name with GET /api/metrics, "
                        "and the API key lacks the scope metrics:read. Add the scope, or give "
                        "metric ids (`conversion_metric_id`, `metric_id` in metric_aggregates)."
                    ) from None
            return state.metrics

    def metric_by_name(self, name: str, *, pick_first: bool) -> dict[str, Any] | None:
        found = sorted(
            (m for m in self.metrics() if m.get("name") == name),
            key=lambda m: (str(m.get("created") or ""), str(m.get("id"))),
        )
        if len(found) <= 1 or pick_first:
            return found[0] if found else None
        described = ", ".join(f"{m['id']} ({_integration(m)})" for m in found)
        raise KlaviyoError(
            f"Stream '{self.name}': {len(found)} metrics are named {name!r}: {described}. "
            "Give `metric_id` instead."
        )

    @cached_property
    def started_at(self) -> datetime:
        """When this stream's run began (``CLOCK.now``): today, the default history and which
        days are settled are reckoned from it."""
        return CLOCK.now()

    def today(self, zone: ZoneInfo | None = None) -> date:
        return self.started_at.astimezone(zone or self.zone).date()

    def last_day(self) -> date:
        """The last complete local day: before today, and before ``end_date``."""
        end = self.config.get("end_date")
        limit = self.today() - timedelta(days=1)
        if end:
            limit = min(limit, parse_datetime(str(end)).astimezone(self.zone).date() - timedelta(1))
        return limit

    def initial_day(self, zone: ZoneInfo | None = None) -> date:
        """``reporting_start_date``'s calendar date as written (a local day: its time and
        offset do not move it), else ``DEFAULT_HISTORY_DAYS`` before today."""
        start = self.config.get("reporting_start_date")
        if start:
            return parse_datetime(str(start)).date()
        return self.today(zone) - timedelta(days=DEFAULT_HISTORY_DAYS)

    @property
    def lookback_days(self) -> int:
        value = self.config.get("reporting_lookback_days")
        return DEFAULT_LOOKBACK_DAYS if value is None else int(value)

    def first_day(
        self, context: Context | None, floor: date | None, zone: ZoneInfo | None = None
    ) -> date:
        """Where this run starts: after the last settled day (see ``advance``), else the
        bookmark less the look-back, else the start date."""
        state = self.get_context_state(context)
        bookmark = state.get("replication_key_value")
        settled = state.get("settled_through")
        configured = self.config.get("reporting_start_date")
        if bookmark:
            if settled:
                start = date.fromisoformat(str(settled)[:10]) + timedelta(days=1)
            else:
                start = date.fromisoformat(str(bookmark)[:10]) + timedelta(
                    days=1 - self.lookback_days
                )
            if configured:
                start = max(start, self.initial_day(zone))
        else:
            start = self.initial_day(zone)
        return max(start, floor) if floor else start

    def advance(self, context: Context | None, day: date, zone: ZoneInfo | None = None) -> None:
        """Every day through ``day`` is read: move the bookmark (never back) and say so.

        ``settled_through`` is the last day read when it was more than
        ``reporting_lookback_days`` old, so its numbers no longer change: the next run
        starts after it. In a daily schedule that re-reads the last look-back days; in a
        backfill cut short by the quota it re-reads nothing and goes on where it stopped.
        """
        state = self.get_context_state(context)
        current = state.get("replication_key_value")
        value = day.isoformat()
        if not current or value > str(current):
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = value
        final = self.today(zone) - timedelta(days=self.lookback_days + 1)
        settled = min(day, final).isoformat()
        if not state.get("settled_through") or settled > str(state["settled_through"]):
            state["settled_through"] = settled
        self.state_manager.is_flushed = False
        self.write_state()

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        problem = self.record_check.checker(row, "")
        if problem:
            raise KlaviyoError(
                f"Stream '{self.name}': a record does not fit the schema: {problem}."
            )
        return row

    def post(self, request: HTTPRequest) -> dict[str, Any]:
        response = self.send(self.prepare(request))
        return response_json(response)


def _integration(metric: dict[str, Any]) -> str:
    integration = metric.get("integration")
    if isinstance(integration, dict):
        return str(integration.get("name") or integration.get("key") or "no integration")
    return "no integration"


class ReportStream(_ReportingBase):
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
        chosen = self.config.get(statistics_setting(self.family))
        return list(chosen or DEFAULT_STATISTICS[self.family])

    @property
    def period(self) -> str:
        return str(self.config.get("reporting_values_period") or DEFAULT_VALUES_PERIOD)

    @property
    def data_floor(self) -> date | None:
        starts = self.rules.get("data_starts")
        return date.fromisoformat(starts) if starts else None

    @cached_property
    def conversion_metric_id(self) -> str | None:
        if not self.conversion_metric:
            return None
        configured = self.config.get("conversion_metric_id")
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
                ", ".join(f"{m['id']} ({_integration(m)})" for m in found),
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

    # -- planning -------------------------------------------------------------------------

    @property
    def budget(self) -> int | None:
        daily = self.operation.daily
        if not daily:
            return None
        configured = self.config.get("reporting_daily_request_budget")
        chosen = DEFAULT_DAILY_REQUEST_BUDGET if configured is None else int(configured)
        return min(chosen, daily)

    @property
    def steady_per_minute(self) -> int:
        steady = self.operation.steady_per_minute or 60
        share = float(self.config.get("max_requests_per_minute_share") or 1.0)
        return max(1, int(steady * share))

    def windows(self) -> list[Window]:
        first = self.first_day(None, self.data_floor)
        last = self.last_day()
        if first > last:
            return []
        if self.kind == "values":
            return period_windows(first, last, self.period, self._window_floor())
        days = self.rules.get("interval_max_days", {}).get(SERIES_INTERVAL, 60)
        return chunk_windows(first, last, days)

    def _window_floor(self) -> date | None:
        floors = [d for d in (self.data_floor,) if d]
        if self.config.get("reporting_start_date"):
            floors.append(self.initial_day())
        return max(floors) if floors else None

    # The request ledger: requests sent per UTC hour over the last 24 hours, kept in the
    # state so that runs on the same day share one budget.

    @property
    def ledger(self) -> dict[str, Any]:
        return self.get_context_state(None).setdefault("quota", {"requests_by_hour": {}})

    def used_requests(self, now: datetime) -> int:
        hours = self.ledger.setdefault("requests_by_hour", {})
        horizon = now - QUOTA_WINDOW
        for hour in list(hours):
            if _hour(hour) + timedelta(hours=1) <= horizon:
                del hours[hour]
        return sum(int(v) for v in hours.values())

    def count_request(self, now: datetime) -> None:
        hours = self.ledger.setdefault("requests_by_hour", {})
        key = now.strftime("%Y-%m-%dT%H")
        hours[key] = int(hours.get(key, 0)) + 1

    def blocked_until(self, now: datetime) -> datetime | None:
        value = self.ledger.get("blocked_until")
        if not value:
            return None
        until = parse_datetime(str(value))
        if until <= now:
            self.ledger.pop("blocked_until", None)
            return None
        return until

    def plan(self) -> Plan:
        now = CLOCK.now()
        windows = self.windows()
        budget = self.budget
        used = self.used_requests(now)
        blocked = self.blocked_until(now)
        runnable = len(windows)
        if blocked is not None:
            runnable = 0
        elif budget is not None:
            runnable = max(0, min(runnable, budget - used))
        return Plan(
            stream=self.name,
            endpoint=f"POST {self.path}",
            windows=windows,
            runnable=runnable,
            budget=budget,
            used=used,
            steady_per_minute=self.steady_per_minute,
            blocked_until=blocked,
        )

    # -- requests -------------------------------------------------------------------------

    def request_document(self, window: Window) -> dict[str, Any]:
        zone = self.zone
        attributes: dict[str, Any] = {
            "statistics": self.statistics,
            # Both end days count whole: 00:00:00 of the first, 23:59:59 of the last.
            "timeframe": {
                "start": local_midnight(window.first, zone).isoformat(),
                "end": local_end_of_day(window.last, zone).isoformat(),
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
        """The POST for one window; a next page goes to Klaviyo's ``links.next`` (which
        carries ``page_cursor``) with the same body."""
        window = (page.stream_context or {})["window"]
        return HTTPRequest(
            url=str(page.next_page_token or self.get_url(None)),
            method=self.http_method,
            headers=self.http_headers,
            data=self.request_document(window),
        )

    def get_records(self, context: Context | None) -> Iterator[dict[str, Any]]:
        plan = self.plan()
        log_reporting_plan(self.run_tap, self)
        if plan.blocked_until is not None:
            return
        restarted = False
        index = 0
        while index < len(plan.windows):
            window = plan.windows[index]
            if index >= plan.runnable:
                self._stop_for_budget(plan, window)
                return
            try:
                yield from self.read_window(window)
            except ThrottledTooLong as exc:
                self._stop_for_quota(window, exc.wait)
                return
            except _BudgetSpent:
                self._stop_for_budget(plan, window)
                return
            except KlaviyoAPIError as exc:
                if exc.status == 403 and self.config.get("ignore_forbidden_streams"):
                    self.logger.warning("Skipping stream: %s", exc)
                    return
                if exc.status == 400 and "page_cursor" in exc.parameters and not restarted:
                    # A cursor that expired between pages: read the window again, once.
                    self.logger.warning(
                        "Stream '%s': Klaviyo rejected a page cursor; reading %s..%s again",
                        self.name,
                        window.first,
                        window.last,
                    )
                    restarted = True
                    continue
                raise
            self.advance(None, window.last)
            index += 1

    def read_window(self, window: Window) -> Iterator[dict[str, Any]]:
        context = {"window": window}
        url: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES_PER_WINDOW):
            now = CLOCK.now()
            if self.budget is not None and self.used_requests(now) >= self.budget:
                raise _BudgetSpent
            request = self.get_http_request(
                page=PageContext(stream_context=context, next_page_token=url)
            )
            self.count_request(now)
            try:
                body = self.post(request)
            except ThrottledTooLong:
                self._uncount_request(now)
                raise
            yield from self.rows(body, window)
            url = (body.get("links") or {}).get("next") or None
            if url is None:
                return
            if url in seen:
                raise KlaviyoError(
                    f"Stream '{self.name}': Klaviyo sent the same next page twice ({url})."
                )
            seen.add(url)
        raise KlaviyoError(
            f"Stream '{self.name}': more than {MAX_PAGES_PER_WINDOW} pages for one window."
        )

    def _uncount_request(self, now: datetime) -> None:
        hours = self.ledger.setdefault("requests_by_hour", {})
        key = now.strftime("%Y-%m-%dT%H")
        if hours.get(key):
            hours[key] = int(hours[key]) - 1

    def rows(self, body: dict[str, Any], window: Window) -> Iterator[dict[str, Any]]:
        data = body.get("data")
        attributes = data.get("attributes") if isinstance(data, dict) else None
        if not isinstance(attributes, dict) or not isinstance(attributes.get("results"), list):
            raise KlaviyoError(
                f"Stream '{self.name}': the response has no `data.attributes.results`."
            )
        wanted = set(self.statistics)
        fixed: dict[str, Any] = {}
        if self.conversion_metric:
            fixed["conversion_metric_id"] = self.conversion_metric_id
        if self.kind == "values":
            fixed.update(
                date=window.first.isoformat(),
                through_date=window.last.isoformat(),
                period=self.period,
            )
            for result in attributes["results"]:
                groupings, statistics = _result_parts(self.name, result)
                row = {c: groupings.get(c) for c in self.grouping_columns}
                row.update({k: v for k, v in statistics.items() if k in wanted})
                row.update(fixed)
                yield row
            return
        date_times = attributes.get("date_times")
        if not isinstance(date_times, list):
            raise KlaviyoError(f"Stream '{self.name}': the response has no `date_times`.")
        first, last = window.first.isoformat(), window.last.isoformat()
        for result in attributes["results"]:
            groupings, statistics = _result_parts(self.name, result)
            base = {c: groupings.get(c) for c in self.grouping_columns}
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

    # -- stopping cleanly -----------------------------------------------------------------

    def _stop_for_budget(self, plan: Plan, window: Window) -> None:
        self.logger.warning(
            "Stream '%s': the daily request budget for %s is spent "
            "(reporting_daily_request_budget=%s, %d requests in the last 24 h); stopping "
            "before %s..%s. The state keeps every finished window and the next run continues "
            "from there once requests age out of the 24-hour window.",
            self.name,
            plan.endpoint,
            plan.budget,
            self.used_requests(CLOCK.now()),
            window.first,
            window.last,
        )

    def _stop_for_quota(self, window: Window, wait: float) -> None:
        until = CLOCK.now() + timedelta(seconds=wait)
        self.ledger["blocked_until"] = until.isoformat()
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
            window.first,
            window.last,
            f"{until:%Y-%m-%d %H:%M}",
        )


class _BudgetSpent(Exception):
    """The ledger has no request left for this endpoint in the last 24 hours."""


def _hour(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%dT%H").replace(tzinfo=timezone.utc)


def _result_parts(stream: str, result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    groupings = result.get("groupings") if isinstance(result, dict) else None
    statistics = result.get("statistics") if isinstance(result, dict) else None
    if not isinstance(groupings, dict) or not isinstance(statistics, dict):
        raise KlaviyoError(f"Stream '{stream}': a report result lacks `groupings` or `statistics`.")
    return groupings, statistics


_reporting_lock = threading.Lock()


def log_reporting_plan(tap: Any, caller: _ReportingBase) -> None:
    """Once per run, before the first report request: every selected report stream's
    requests, and how long they take at 2/min per endpoint."""
    state = shared(tap)
    with _reporting_lock:
        if state.plan_logged:
            return
        state.plan_logged = True
    plans = [
        stream.plan()
        for stream in tap.streams.values()
        if isinstance(stream, ReportStream) and stream.selected
    ]
    for plan in plans:
        caller.logger.info("Reporting plan: %s", plan.describe())
    if not plans:
        return
    workers = int(tap.config.get("parallel_streams") or 1)
    total = sum(p.runnable for p in plans)
    wall = parallel_seconds([p.seconds for p in plans], workers)
    caller.logger.info(
        "Reporting plan: %d report stream(s), %d request(s) in this run, about %s "
        "(each endpoint allows 2 requests/min; %d stream(s) at a time)",
        len(plans),
        total,
        _duration(wall),
        workers,
    )


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


# ---- metric aggregates ------------------------------------------------------------------


def dimension_column(name: str) -> str:
    """``$attributed_message`` -> ``by_attributed_message``, ``Campaign Name`` ->
    ``by_campaign_name``: one column per group-by dimension."""
    return "by_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


class MetricAggregatesStream(_ReportingBase):
    """User-defined ``POST /api/metric-aggregates`` queries (setting ``metric_aggregates``),
    one partition and bookmark per query, one record per query, date and dimension values."""

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
        return {q["name"]: q for q in self.config.get("metric_aggregates") or []}

    @property
    def partitions(self) -> list[dict[str, Any]] | None:
        return [{"query": name} for name in self.queries]

    def query_zone(self, query: dict[str, Any]) -> ZoneInfo:
        configured = query.get("timezone")
        return _zone(str(configured), "metric_aggregates.timezone") if configured else self.zone

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

    def windows(self, context: Context, query: dict[str, Any]) -> list[Window]:
        interval = query.get("interval") or "day"
        zone = self.query_zone(query)
        last = self.today(zone) - timedelta(days=1)
        end = self.config.get("end_date")
        if end:
            last = min(last, parse_datetime(str(end)).astimezone(zone).date() - timedelta(1))
        first = self.first_day(context, None, zone)
        period = {"week": "week", "month": "month"}.get(interval, "day")
        first = period_start(first, period)
        if first > last:
            return []
        return chunk_windows(first, last, METRIC_AGGREGATE_WINDOW_DAYS[interval])

    def request_document(
        self, query: dict[str, Any], metric_id: str, window: Window, cursor: str | None
    ) -> dict[str, Any]:
        zone = self.query_zone(query)
        end = window.last + timedelta(days=1)
        attributes: dict[str, Any] = {
            "metric_id": metric_id,
            "measurements": list(query.get("measurements") or ["count"]),
            "interval": query.get("interval") or "day",
            # Wall-clock times in `timezone`, as the spec's example writes them.
            "filter": [
                f"greater-or-equal(datetime,{window.first.isoformat()}T00:00:00)",
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
                context["query_config"],
                context["metric_id"],
                context["window"],
                page.next_page_token,
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
        windows = self.windows(context, query)
        self.logger.info(
            "Stream '%s', query %r: %d request(s) for %s",
            self.name,
            query["name"],
            len(windows),
            f"{windows[0].first}..{windows[-1].last}" if windows else "nothing (up to date)",
        )
        for window in windows:
            request_context = {"query_config": query, "metric_id": metric_id, "window": window}
            cursor: str | None = None
            seen: set[str] = set()
            for _ in range(MAX_PAGES_PER_WINDOW):
                request = self.get_http_request(
                    page=PageContext(stream_context=request_context, next_page_token=cursor)
                )
                body = self.post(request)
                yield from self.rows(body, query, metric_id)
                cursor = _cursor_from_next((body.get("links") or {}).get("next"))
                if cursor is None:
                    break
                if cursor in seen:
                    raise KlaviyoError(
                        f"Stream '{self.name}': Klaviyo sent the same page cursor twice."
                    )
                seen.add(cursor)
            self.advance(context, window.last, zone)

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


def _cursor_from_next(link: Any) -> str | None:
    """The cursor of a metric-aggregates ``links.next``: its ``page_cursor`` parameter,
    or the value itself when it is not a URL."""
    if not link:
        return None
    text = str(link)
    parts = urlsplit(text)
    if parts.scheme and parts.netloc:
        found = parse_qs(parts.query).get("page_cursor")
        return found[0] if found else None
    return text


REPORT_STREAM_TYPES = [
    CampaignValuesReportsStream,
    FlowValuesReportsStream,
    FlowSeriesReportsStream,
    FormValuesReportsStream,
    FormSeriesReportsStream,
    SegmentValuesReportsStream,
    SegmentSeriesReportsStream,
    MetricAggregatesStream,
]
