"""The reporting settings' own checks: statistics, periods, budgets, timezones and the
metric-aggregate queries, each rejected in one line before any request."""

from __future__ import annotations

import re
from typing import Any

from tap_klaviyo.dates import named_zone, parse_datetime
from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.settings import (
    REPORT_FAMILIES,
    REPORTING_PERIODS,
    metric_aggregate_enums,
    statistics_enum,
    statistics_setting,
)


def check_reporting_settings(config: dict[str, Any], error: type[Exception]) -> None:
    """Reject bad reporting settings before any request, each with a one-line reason."""
    for family in REPORT_FAMILIES:
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
    if period not in (None, "") and period not in REPORTING_PERIODS:
        raise error(
            f"Setting `reporting_values_period` must be one of {', '.join(REPORTING_PERIODS)}, "
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
                named_zone(str(config[name]), name)
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
                named_zone(str(query["timezone"]), "metric_aggregates.timezone")
            except KlaviyoError as exc:
                raise error(f"{where}: {exc}") from None
