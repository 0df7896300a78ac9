"""The tap's settings: a typed ``Settings`` object holding every default once (here),
their JSON schema for the SDK (``schema.py``) and the checks that reject bad input
before any request is sent (``checks.py``)."""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tap_klaviyo import spec
from tap_klaviyo.dates import parse_datetime

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


def statistics_setting(family: str) -> str:
    return f"reporting_{family}_statistics"


@dataclass(frozen=True)
class Settings:
    """Every setting with its default; the config schema and every reader take them
    from here. Built from a config the SDK has validated (``from_config``)."""

    api_key: str = ""
    # A label stamped on every record (column `account_id`), for tables of many accounts.
    account_id: str | None = None
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
    parallel_streams: int = 8
    # A progress line per running stream this often; 0 turns them off (the summary stays).
    progress_seconds: float = 30
    emit_activate_version_messages: bool = False
    max_retry_after_seconds: int = 600
    events_lookback_window_days: float = 7
    event_metric_ids: tuple[str, ...] = ()
    profiles_additional_fields: tuple[str, ...] = ("subscriptions",)
    ignore_forbidden_streams: bool = False
    members_full_refresh_days: float = 7
    exclusions_full_refresh_days: float = 7
    sizes_refresh_hours: float = 24
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
            if isinstance(value, list):
                value = tuple(value)
            elif isinstance(value, str) and field.type == "float":  # NUMBER (schema.py)
                # Text that is no number stays as it is, for check_numbers to name.
                with contextlib.suppress(ValueError):
                    value = float(value)
            values[field.name] = value
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


from tap_klaviyo.settings.checks import (  # noqa: E402  (they read the names above)
    check_general,
    check_known,
    check_numbers,
    check_stream_starts,
)
from tap_klaviyo.settings.schema import config_schema  # noqa: E402

__all__ = [
    "DEFAULTS",
    "DEFAULT_STATISTICS",
    "REPORTING_HISTORY_DAYS",
    "REPORTING_PERIODS",
    "REPORT_FAMILIES",
    "Settings",
    "check_general",
    "check_known",
    "check_numbers",
    "check_stream_starts",
    "config_schema",
    "metric_aggregate_enums",
    "statistics_enum",
    "statistics_setting",
]
