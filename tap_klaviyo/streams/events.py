"""Events, the metrics they belong to and the metrics' properties."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream

DEFAULT_EVENTS_LOOKBACK_DAYS = 3


class EventsStream(KlaviyoStream):
    name = "events"
    path = "/api/events"
    replication_key = "datetime"
    parallel_windows = True
    context_filters = {"metric_id": "metric_id"}

    @property
    def partitions(self) -> list[dict[str, Any]] | None:
        # One bookmark per chosen metric, so adding a metric later backfills only it.
        metric_ids = self.config.get("event_metric_ids") or []
        return [{"metric_id": metric_id} for metric_id in metric_ids] or None

    @property
    def lookback(self) -> timedelta:
        days = self.config.get("events_lookback_window_days")
        return timedelta(days=DEFAULT_EVENTS_LOOKBACK_DAYS if days is None else float(days))


class MetricsStream(KlaviyoStream):
    name = "metrics"
    path = "/api/metrics"
    child_key = "metric_id"


class MetricPropertiesStream(KlaviyoChildStream):
    name = "metric_properties"
    path = "/api/metrics/{metric_id}/metric-properties"
    parent_stream_type = MetricsStream
    parent_key = "metric_id"
