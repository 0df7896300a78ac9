"""Every stream the tap offers, one module per resource family."""

from __future__ import annotations

from tap_klaviyo.streams.campaigns import (
    CampaignMessagesStream,
    CampaignsStream,
    CampaignTagsStream,
)
from tap_klaviyo.streams.events import EventsStream, MetricsStream
from tap_klaviyo.streams.flows import FlowsStream
from tap_klaviyo.streams.lists import (
    ListMembersStream,
    ListsStream,
    SegmentMembersStream,
    SegmentsStream,
)
from tap_klaviyo.streams.profiles import ProfilesStream
from tap_klaviyo.streams.templates import TagsStream, TemplatesStream

STREAM_TYPES = [
    ProfilesStream,
    EventsStream,
    MetricsStream,
    ListsStream,
    ListMembersStream,
    SegmentsStream,
    SegmentMembersStream,
    CampaignsStream,
    CampaignMessagesStream,
    CampaignTagsStream,
    FlowsStream,
    TemplatesStream,
    TagsStream,
]
