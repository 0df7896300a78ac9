"""The settings as the SDK's JSON schema; every default comes from ``Settings``."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from tap_klaviyo.settings import (
    DEFAULTS,
    REPORT_FAMILIES,
    REPORTING_HISTORY_DAYS,
    REPORTING_PERIODS,
    metric_aggregate_enums,
    statistics_enum,
    statistics_setting,
)


def _default(name: str) -> Any:
    value = getattr(DEFAULTS, name)
    return list(value) if isinstance(value, tuple) else value


# A number, or the same number as text: Meltano passes a decimal setting given in an
# environment variable (TAP_KLAVIYO_MEMBERS_FULL_REFRESH_DAYS=0.5) as text when it is
# declared a string, and fails on its own Decimal when it is declared `decimal`; the
# SDK's --config ENV passes it as text too. checks.check_numbers rejects text that is no
# number, in one line; Settings.from_config reads both.
NUMBER = th.CustomType({"type": ["number", "string"]})


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
            "account_id",
            th.StringType,
            title="Account id",
            description="A name for this Klaviyo account (its id from the `accounts` stream, "
            "or your own), written to an `account_id` column of every record so that the "
            "tables of several accounts can be unioned. Default: no such column.",
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
            NUMBER,
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
            "same time. Klaviyo's quotas are per endpoint, so they do not compete; the "
            "default leaves five beside events, profiles and metrics for the short ones.",
        ),
        th.Property(
            "progress_seconds",
            NUMBER,
            default=_default("progress_seconds"),
            title="Progress line interval (seconds)",
            description="While a stream runs, a log line this often says its records, "
            "records a second, how much of its range is done and the time left; streams "
            "that finish sooner stay quiet. 0 turns the lines off (the end-of-run summary "
            "stays).",
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
            NUMBER,
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
            default=_default("profiles_additional_fields"),
            title="Profile additional fields",
            description="Extra profile fields to request: subscriptions (consent, at no "
            "cost; on by default), predictive_analytics (lowers the profiles rate limit to "
            "10/s, 150/m). [] asks for none.",
        ),
        th.Property(
            "members_full_refresh_days",
            NUMBER,
            default=_default("members_full_refresh_days"),
            title="Members full read (days)",
            description="Every this many days list_members and segment_members read every "
            "member of every list and segment again and send ACTIVATE_VERSION once all are "
            "read, so the target drops (or marks deleted) the memberships that ended. Other "
            "runs read only new members (`joined_group_at`). 0: never.",
        ),
        th.Property(
            "exclusions_full_refresh_days",
            NUMBER,
            default=_default("exclusions_full_refresh_days"),
            title="Exclusions full read (days)",
            description="Every this many days global_exclusions and list_exclusions read "
            "every suppressed profile again and send ACTIVATE_VERSION once all are read, so "
            "the target drops (or marks deleted) the suppressions that were lifted. Other "
            "runs read only new suppressions. 0: never.",
        ),
        th.Property(
            "sizes_refresh_hours",
            NUMBER,
            default=_default("sizes_refresh_hours"),
            title="Sizes snapshot interval (hours)",
            description="list_sizes and segment_sizes take a new snapshot of a list or "
            "segment only when its last one is this old: each costs a request of a "
            "15-a-minute quota. A day keeps its latest snapshot.",
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
