"""Events and the metrics they belong to."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoStream


class EventsStream(KlaviyoStream):
    name = "events"
    path = "/api/events"
    replication_key = "datetime"


class MetricsStream(KlaviyoStream):
    name = "metrics"
    path = "/api/metrics"
