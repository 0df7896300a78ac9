"""Events, the metrics they belong to and the metrics' properties."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream
from tap_klaviyo.streams.lookups import event_metric_ids, metric_names
from tap_klaviyo.write.derive import Derived, FromIncluded

PROPS = "event_properties"


class EventsStream(KlaviyoStream):
    name = "events"
    path = "/api/events"
    replication_key = "datetime"
    parallel_windows = True
    lookback_setting = "events_lookback_window_days"
    context_filters = {"metric_id": "metric_id"}
    # What caused an event, from its properties: `$flow` and `$message` on the messages
    # of flows and campaigns (a campaign's when the event names no flow but a campaign),
    # attribution on conversions (klaviyo_sim README, reality layer, has the evidence).
    derived_columns = (
        Derived("metric_name", (("metric_id",),), via="metric_names"),
        Derived("flow_id", ((PROPS, "$flow"),)),
        Derived("flow_message_id", ((PROPS, "$message"),), when=(PROPS, "$flow")),
        Derived(
            "campaign_id",
            ((PROPS, "$message"),),
            when=(PROPS, "Campaign Name"),
            unless=(PROPS, "$flow"),
        ),
        Derived("variation_id", ((PROPS, "$variation"),)),
        Derived(
            "attributed_event_id",
            ((PROPS, "$attribution", "$attributed_event_id"), (PROPS, "$attributed_event_id")),
        ),
        Derived(
            "attributed_flow_id", ((PROPS, "$attributed_flow"), (PROPS, "$attribution", "$flow"))
        ),
        Derived(
            "attributed_message_id",
            ((PROPS, "$attributed_message"), (PROPS, "$attribution", "$message")),
        ),
        Derived(
            "attributed_channel",
            ((PROPS, "$attributed_channel"), (PROPS, "$attribution", "$channel")),
        ),
    )

    def prepare_run(self) -> None:
        super().prepare_run()
        chosen = self.settings.event_metric_ids
        self.metric_ids = event_metric_ids(self.run_tap, chosen, self.logger) if chosen else []

    def look_up(self) -> None:
        # A read of every event has its first page on its way while the names are
        # looked up; reads of chosen metrics go by partition.
        chosen = self.settings.event_metric_ids
        with nullcontext() if chosen else self.reader.early(self.run_bounds):
            self.metric_names = metric_names(self.run_tap, self.logger)

    def lookup_maps(self) -> dict[str, dict]:
        return {"metric_names": getattr(self, "metric_names", {})}

    @property
    def partitions(self) -> list[dict[str, Any]] | None:
        # One bookmark per chosen metric, so adding a metric later backfills only it.
        chosen = getattr(self, "metric_ids", None)
        if chosen is None:  # not prepared (discovery, or a run that reads no events)
            chosen = self.settings.event_metric_ids
        return [{"metric_id": metric_id} for metric_id in chosen] or None


class EventAttributionsStream(KlaviyoStream):
    """Which message Klaviyo credits each conversion to (``include=attributions``): a row
    per attribution with its event's datetime, read like events, in their own time
    slices. Opt-in: it reads every event again (only their datetimes and attributions)."""

    name = "event_attributions"
    path = "/api/events"
    replication_key = "datetime"
    parallel_windows = True
    lookback_setting = "events_lookback_window_days"
    selected_by_default = False
    include = ("attributions",)
    from_included = FromIncluded("attribution", owner="event_id", keep=("datetime",))

    def static_params(self) -> dict[str, str]:
        # The rows need an event's id and datetime only: the rest of its body is skipped.
        return {"fields[event]": "datetime"}


class MetricsStream(KlaviyoStream):
    name = "metrics"
    path = "/api/metrics"
    child_key = "metric_id"


class MetricPropertiesStream(KlaviyoChildStream):
    name = "metric_properties"
    path = "/api/metrics/{metric_id}/metric-properties"
    parent_stream_type = MetricsStream
    parent_key = "metric_id"
