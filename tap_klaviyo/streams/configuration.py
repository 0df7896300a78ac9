"""The account's configuration: custom and mapped metrics, web feeds, webhook topics,
tracking settings, which flows lists, segments and metrics trigger, and campaigns'
recipient estimates. Full table: small, and the endpoints neither filter nor sort."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream
from tap_klaviyo.pairs import RelatedIdsStream
from tap_klaviyo.streams.campaigns import CampaignsStream
from tap_klaviyo.streams.events import MetricsStream
from tap_klaviyo.streams.lists import ListsStream, SegmentsStream


class CustomMetricsStream(KlaviyoStream):
    name = "custom_metrics"
    path = "/api/custom-metrics"


class MappedMetricsStream(KlaviyoStream):
    name = "mapped_metrics"
    path = "/api/mapped-metrics"


class WebFeedsStream(KlaviyoStream):
    name = "web_feeds"
    path = "/api/web-feeds"
    # Needs a scope (web-feeds:read) keys made for extraction seldom have.
    selected_by_default = False


class WebhookTopicsStream(KlaviyoStream):
    name = "webhook_topics"
    path = "/api/webhook-topics"
    paid_add_on = "Advanced KDP add-on"


class TrackingSettingsStream(KlaviyoStream):
    name = "tracking_settings"
    path = "/api/tracking-settings"
    # Needs a scope (tracking-settings:read) keys made for extraction seldom have.
    selected_by_default = False


class FlowTriggersStream(RelatedIdsStream):
    """(parent, flow) pairs from the parent's `include=flow-triggers`: no request of
    their own."""

    relationship = "flow-triggers"
    related_key_name = "flow_id"


class ListFlowTriggersStream(FlowTriggersStream):
    name = "list_flow_triggers"
    parent_stream_type = ListsStream
    parent_key = "list_id"


class SegmentFlowTriggersStream(FlowTriggersStream):
    name = "segment_flow_triggers"
    parent_stream_type = SegmentsStream
    parent_key = "segment_id"


class MetricFlowTriggersStream(FlowTriggersStream):
    name = "metric_flow_triggers"
    parent_stream_type = MetricsStream
    parent_key = "metric_id"


class CampaignRecipientEstimationsStream(KlaviyoChildStream):
    """A campaign's estimated recipients, one request per campaign; campaigns Klaviyo
    has no estimate for (404) are left out without a warning."""

    name = "campaign_recipient_estimations"
    path = "/api/campaign-recipient-estimations/{campaign_id}"
    parent_stream_type = CampaignsStream
    parent_key = "campaign_id"
    missing_is_normal = True
    # A request per campaign at 150 a minute: opt in.
    selected_by_default = False
