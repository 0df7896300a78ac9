"""Campaigns, their messages and their tags."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream
from tap_klaviyo.pairs import RelatedIdsStream

CHANNELS = ("email", "sms", "mobile_push")


class CampaignsStream(KlaviyoStream):
    name = "campaigns"
    path = "/api/campaigns"
    replication_key = "updated_at"
    child_key = "campaign_id"
    # Klaviyo lists one channel per request and hides archived campaigns unless asked.
    static_partitions = [
        {"channel": channel, "archived": archived}
        for channel in CHANNELS
        for archived in (False, True)
    ]
    context_filters = {"channel": "messages.channel", "archived": "archived"}


class CampaignMessagesStream(KlaviyoChildStream):
    name = "campaign_messages"
    path = "/api/campaigns/{campaign_id}/campaign-messages"
    parent_stream_type = CampaignsStream
    parent_key = "campaign_id"


class CampaignTagsStream(RelatedIdsStream):
    name = "campaign_tags"
    parent_stream_type = CampaignsStream
    parent_key = "campaign_id"
    relationship = "tags"
