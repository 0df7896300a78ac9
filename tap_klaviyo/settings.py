"""The tap's settings: their schema, a typed ``Settings`` object holding every default
once, and the checks that reject bad input before any request is sent."""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

from tap_klaviyo import spec
from tap_klaviyo.dates import parse_datetime
from tap_klaviyo.errors import SettingsError

# The Reporting API's statistics settings, one per family of messages, each checked
# against the enum of this operation's request body.
REPORT_FAMILIES = {
    "campaign": "query_campaign_values",
    "flow": "query_flow_values",
    "form": "query_form_values",
    "segment": "query_segment_values",
}
REPORTING_PERIODS = ("day", "week", "month")
# With no `reporting_start_date`, report streams start this many days before their first run.
REPORTING_HISTORY_DAYS = 90
_MESSAGE_STATISTICS = (
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
)
# What each family's report streams ask for unless `reporting_<family>_statistics` says.
DEFAULT_STATISTICS: dict[str, tuple[str, ...]] = {
    "campaign": _MESSAGE_STATISTICS,
    "flow": _MESSAGE_STATISTICS,
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
_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9_-]+)?$")


def statistics_setting(family: str) -> str:
    return f"reporting_{family}_statistics"


@dataclass(frozen=True)
class Settings:
    """Every setting with its default; the config schema and every reader take them
    from here. Built from a config the SDK has validated (``from_config``)."""

    api_key: str = ""
    start_date: str | None = None
    # Later starts for chosen streams: an RFC 3339 date-time, or days before the run.
    stream_start_dates: dict[str, Any] | None = None
    end_date: str | None = None
    api_url: str = "https://a.klaviyo.com"
    revision: str = spec.revision()
    max_requests_per_minute_share: float = 1.0
    max_workers: int = 16
    # None: the CPU count, at most 4 (tap_klaviyo.write.render.default_processes).
    render_processes: int | None = None
    parallel_streams: int = 4
    emit_activate_version_messages: bool = False
    max_retry_after_seconds: int = 600
    events_lookback_window_days: float = 7
    event_metric_ids: tuple[str, ...] = ()
    profiles_additional_fields: tuple[str, ...] = ()
    ignore_forbidden_streams: bool = False
    reporting_start_date: str | None = None
    reporting_lookback_days: int = 7
    reporting_daily_request_budget: int = 150
    reporting_values_period: str = "day"
    reporting_campaign_statistics: tuple[str, ...] = DEFAULT_STATISTICS["campaign"]
    reporting_flow_statistics: tuple[str, ...] = DEFAULT_STATISTICS["flow"]
    reporting_form_statistics: tuple[str, ...] = DEFAULT_STATISTICS["form"]
    reporting_segment_statistics: tuple[str, ...] = DEFAULT_STATISTICS["segment"]
    conversion_metric_id: str | None = None
    reporting_timezone: str | None = None
    metric_aggregates: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        """Missing, null and empty values take the default; a zero where zero means
        nothing (workers, shares, waits) does too."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            value = config.get(field.name)
            if value is None or (value in (0, "", []) and field.name in _FALSY_IS_DEFAULT):
                continue
            values[field.name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)

    @property
    def base_url(self) -> str:
        return str(self.api_url).rstrip("/")

    @property
    def start(self) -> datetime | None:
        return parse_datetime(self.start_date) if self.start_date else None

    def start_for(self, stream: str, run_started_at: datetime) -> datetime | None:
        """Where ``stream`` starts when it has no bookmark: the later of `start_date` and
        the stream's own start (`stream_start_dates`)."""
        own = (self.stream_start_dates or {}).get(stream)
        if own is None:
            return self.start
        if isinstance(own, (int, float)) and not isinstance(own, bool):
            moment = run_started_at - timedelta(days=own)
        else:
            moment = parse_datetime(str(own))
        return max(moment, self.start) if self.start else moment

    @property
    def end(self) -> datetime | None:
        return parse_datetime(self.end_date) if self.end_date else None

    @property
    def workers(self) -> int:
        return max(1, int(self.max_workers))

    @property
    def streams_at_once(self) -> int:
        return max(1, int(self.parallel_streams))

    def quota_per_minute(self, steady: int) -> int:
        """This tap's part of an endpoint's per-minute quota."""
        return max(1, int(steady * float(self.max_requests_per_minute_share)))

    def statistics(self, family: str) -> tuple[str, ...]:
        return getattr(self, statistics_setting(family))


_FALSY_IS_DEFAULT = {
    "api_key",
    "api_url",
    "revision",
    "max_requests_per_minute_share",
    "max_workers",
    "max_retry_after_seconds",
    "reporting_values_period",
    *(statistics_setting(family) for family in REPORT_FAMILIES),
}
DEFAULTS = Settings()


def statistics_enum(family: str) -> list[str]:
    body = spec.request_body(REPORT_FAMILIES[family])
    return list(body["attributes"]["statistics"]["enum"] or [])


def metric_aggregate_enums() -> dict[str, list[str]]:
    attributes = spec.request_body("query_metric_aggregates")["attributes"]
    return {
        "measurements": list(attributes["measurements"]["enum"] or []),
        "interval": list(attributes["interval"]["enum"] or []),
        "by": list(attributes["by"]["enum"] or []),
    }


def _default(name: str) -> Any:
    value = getattr(DEFAULTS, name)
    return list(value) if isinstance(value, tuple) else value


def config_schema() -> dict[str, Any]:
    """The settings as the SDK's JSON schema, defaults taken from ``Settings``."""
    enums = metric_aggregate_enums()
    return th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            title="API key",
            description="Klaviyo private API key (pk_...), with the read scopes of the "
            "selected streams.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description="Earliest record to extract (RFC 3339). Default: all history.",
        ),
        th.Property(
            "stream_start_dates",
            th.ObjectType(additional_properties=th.CustomType({"type": ["string", "number"]})),
            title="Start dates by stream",
            description='A later start for chosen streams, e.g. {"events": 365} for a year of '
            "events and every other stream from `start_date`: a stream's name, and an RFC 3339 "
            "date-time or a number of days before each run (a moving window; the stream's "
            "bookmark still wins when it is later).",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            title="End date",
            description="Latest record to extract (RFC 3339, exclusive). Default: the "
            "moment the run starts.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default=_default("api_url"),
            title="API URL",
            description="Base URL; requests go to {api_url}/api/... (proxies, the simulator).",
        ),
        th.Property(
            "revision",
            th.StringType,
            default=_default("revision"),
            title="API revision",
            description="Klaviyo API revision sent in the `revision` header.",
        ),
        th.Property(
            "max_requests_per_minute_share",
            th.NumberType,
            default=_default("max_requests_per_minute_share"),
            title="Share of the rate limit",
            description="Fraction (0-1] of each endpoint's per-minute quota this tap may "
            "use, leaving the rest to other integrations on the same account.",
        ),
        th.Property(
            "max_workers",
            th.IntegerType,
            default=_default("max_workers"),
            title="Parallel requests per stream",
            description="Worker threads per stream: events and profiles read time windows "
            "in parallel, child streams fetch many parents at once. 1 reads serially.",
        ),
        th.Property(
            "render_processes",
            th.IntegerType,
            title="Worker processes",
            description="Worker processes that turn pages of `events` and `profiles` (the "
            "streams read in parallel time windows) into Singer records, so extraction is "
            "not bound to one CPU core. Default: the CPU count, at most 4. 0 renders them "
            "in the tap's own process.",
        ),
        th.Property(
            "parallel_streams",
            th.IntegerType,
            default=_default("parallel_streams"),
            title="Streams at once",
            description="How many top-level streams (each with its children) sync at the "
            "same time. Klaviyo's quotas are per endpoint, so they do not compete.",
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=_default("emit_activate_version_messages"),
            title="Emit ACTIVATE_VERSION",
            description="For full-table streams, send ACTIVATE_VERSION after the last record "
            "so targets can drop rows Klaviyo no longer returns (deleted records).",
        ),
        th.Property(
            "max_retry_after_seconds",
            th.IntegerType,
            default=_default("max_retry_after_seconds"),
            title="Longest 429 wait",
            description="A 429 asking to wait longer than this stops the run (resumable) "
            "instead of hanging.",
        ),
        th.Property(
            "events_lookback_window_days",
            th.NumberType,
            default=_default("events_lookback_window_days"),
            title="Events look-back (days)",
            description="Each run re-reads this many days of events before the bookmark, "
            "because Klaviyo surfaces events days after their datetime (more than 4 days "
            "late has been seen) and attribution settles within 5 days by default.",
        ),
        th.Property(
            "event_metric_ids",
            th.ArrayType(th.StringType),
            title="Event metrics",
            description="Extract only events of these metrics (each with its own bookmark), "
            "by id or by name (a name takes every metric of that name; an unknown one stops "
            "the run before any event is read). Default: every metric.",
        ),
        th.Property(
            "profiles_additional_fields",
            th.ArrayType(th.StringType(allowed_values=["subscriptions", "predictive_analytics"])),
            title="Profile additional fields",
            description="Extra profile fields to request: subscriptions, predictive_analytics "
            "(the latter lowers the profiles rate limit to 10/s, 150/m).",
        ),
        th.Property(
            "ignore_forbidden_streams",
            th.BooleanType,
            default=_default("ignore_forbidden_streams"),
            title="Skip streams the key may not read",
            description="On a 403 (missing scope), log one warning and skip the stream "
            "instead of failing the run.",
        ),
        # ---- Reporting API and metric aggregates (tap_klaviyo/streams/reporting/) ----
        th.Property(
            "reporting_start_date",
            th.DateTimeType,
            title="Reports start date",
            description="First day the report streams and metric_aggregates read on their "
            "first run: the date as written, a day in the account's timezone. Default: "
            f"{REPORTING_HISTORY_DAYS} days before the first run. `start_date` does "
            "not apply to them: every day of a values report costs a request of a "
            "225-a-day quota.",
        ),
        th.Property(
            "reporting_lookback_days",
            th.IntegerType,
            default=_default("reporting_lookback_days"),
            title="Reports look-back (days)",
            description="Each run re-reads this many complete days before the bookmark, "
            "because attribution (conversions, revenue) keeps changing for days; the records "
            "keep their keys, so targets update them.",
        ),
        th.Property(
            "reporting_daily_request_budget",
            th.IntegerType,
            default=_default("reporting_daily_request_budget"),
            title="Report requests per endpoint and day",
            description="Most requests the tap sends to each report endpoint in any 24 hours "
            "(Klaviyo allows 225 per account, shared with dashboards and other tools), "
            "counted across runs in the state. When it is spent the report stream stops "
            "cleanly and the next run continues.",
        ),
        th.Property(
            "reporting_values_period",
            th.StringType(allowed_values=list(REPORTING_PERIODS)),
            default=_default("reporting_values_period"),
            title="Values report period",
            description="What one row of a *_values_reports stream covers: a day (a "
            "request per day), a Monday-to-Sunday week or a calendar month (the current "
            "one re-read until it is over).",
        ),
        *(
            th.Property(
                statistics_setting(family),
                th.ArrayType(th.StringType(allowed_values=statistics_enum(family))),
                default=_default(statistics_setting(family)),
                title=f"{family.capitalize()} report statistics",
                description=f"Statistics the {family} report streams ask for, each a "
                "column (rates are fractions 0-1).",
            )
            for family in REPORT_FAMILIES
        ),
        th.Property(
            "conversion_metric_id",
            th.StringType,
            title="Conversion metric",
            description="Metric id whose events count as conversions in campaign and flow "
            "reports. Default: the account's 'Placed Order' metric, looked up by name.",
        ),
        th.Property(
            "reporting_timezone",
            th.StringType,
            title="Reports timezone",
            description="IANA timezone report days are aligned to. Default: the account's "
            "timezone from GET /api/accounts (scope accounts:read). Klaviyo reads report "
            "timeframes in the account's timezone, so only set this without that scope.",
        ),
        th.Property(
            "metric_aggregates",
            th.ArrayType(
                th.ObjectType(
                    th.Property("name", th.StringType, required=True),
                    th.Property("metric_id", th.StringType),
                    th.Property("metric_name", th.StringType),
                    th.Property(
                        "measurements",
                        th.ArrayType(th.StringType(allowed_values=enums["measurements"])),
                    ),
                    th.Property("interval", th.StringType(allowed_values=enums["interval"])),
                    th.Property("by", th.ArrayType(th.StringType(allowed_values=enums["by"]))),
                    th.Property("filter", th.ArrayType(th.StringType)),
                    th.Property("timezone", th.StringType),
                )
            ),
            title="Metric aggregate queries",
            description="Queries for the metric_aggregates stream: `name` (keys its records "
            "and bookmark), `metric_id` or `metric_name`, `measurements` (count, sum_value, "
            "unique; default count), `interval` (hour, day, week, month; default day), `by` "
            "(group-by dimensions), `filter` (extra filter strings; the tap sets the datetime "
            "range) and `timezone` (default: the account's).",
        ),
    ).to_dict()


def check_general(config: dict[str, Any]) -> None:
    """Catch bad general settings before any request, each with a one-line reason."""
    key = config.get("api_key")
    if not isinstance(key, str) or not key.strip():
        raise SettingsError("Setting `api_key` is empty: give a Klaviyo private API key (pk_...).")
    dates = {}
    for name in ("start_date", "end_date"):
        value = config.get(name)
        if value in (None, ""):
            continue
        try:
            dates[name] = parse_datetime(str(value))
        except ValueError:
            raise SettingsError(
                f"Setting `{name}` is not an RFC 3339 date-time: {value!r} "
                "(example: 2024-01-31T00:00:00Z)."
            ) from None
    if "start_date" in dates and "end_date" in dates and dates["end_date"] <= dates["start_date"]:
        raise SettingsError(
            f"Setting `end_date` ({config['end_date']}) must be after "
            f"`start_date` ({config['start_date']})."
        )
    revision = config.get("revision")
    if revision not in (None, "") and not _REVISION.match(str(revision)):
        raise SettingsError(
            f"Setting `revision` must look like YYYY-MM-DD (optionally .suffix), got {revision!r}."
        )
    api_url = config.get("api_url")
    if api_url not in (None, ""):
        parts = urlsplit(str(api_url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(
                f"Setting `api_url` must be an http(s) URL such as https://a.klaviyo.com, "
                f"got {api_url!r}."
            )
    processes = config.get("render_processes")
    if processes is not None and (type(processes) is not int or processes < 0):
        raise SettingsError(
            f"Setting `render_processes` must be a whole number, 0 or more, got {processes!r}."
        )


def check_stream_starts(config: dict[str, Any], streams: set[str]) -> None:
    """`stream_start_dates` names streams the tap has, each with a date-time or days."""
    for name, value in (config.get("stream_start_dates") or {}).items():
        where = "Setting `stream_start_dates`"
        if name not in streams:
            close = difflib.get_close_matches(name, sorted(streams), n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise SettingsError(f"{where} names `{name}`, which is not a stream of the tap.{hint}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value < 0:
                raise SettingsError(f"{where}: `{name}` must be 0 or more days, got {value!r}.")
            continue
        try:
            parse_datetime(str(value))
        except ValueError:
            raise SettingsError(
                f"{where}: `{name}` must be an RFC 3339 date-time or a number of days, "
                f"got {value!r}."
            ) from None


def check_known(config: dict[str, Any], known: set[str]) -> None:
    """Every setting given is one the tap has (typos are the usual cause)."""
    for name in config:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise SettingsError(f"Unknown setting `{name}`.{hint}")
