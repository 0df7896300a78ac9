"""Events, the metrics they belong to and the metrics' properties."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream


class EventsStream(KlaviyoStream):
    name = "events"
    path = "/api/events"
    replication_key = "datetime"
    parallel_windows = True
    context_filters = {"metric_id": "metric_id"}

    @property
    def partitions(self) -> list[dict[str, Any]] | None:
        # One bookmark per chosen metric, so adding a metric later backfills only it.
        return [{"metric_id": metric_id} for metric_id in self.settings.event_metric_ids] or None

    @property
    def lookback(self) -> timedelta:
        return timedelta(days=float(self.settings.events_lookback_window_days))


class MetricsStream(KlaviyoStream):
    name = "metrics"
    path = "/api/metrics"
    child_key = "metric_id"


class MetricPropertiesStream(KlaviyoChildStream):
    name = "metric_properties"
    path = "/api/metrics/{metric_id}/metric-properties"
    parent_stream_type = MetricsStream
    parent_key = "metric_id"
