"""Every stream the tap offers, one module per resource family."""

from __future__ import annotations

from tap_klaviyo.streams.account import AccountsStream, WebhooksStream
from tap_klaviyo.streams.campaigns import (
    CampaignMessagesStream,
    CampaignsStream,
    CampaignTagsStream,
)
from tap_klaviyo.streams.catalogs import (
    CatalogCategoriesStream,
    CatalogItemCategoriesStream,
    CatalogItemsStream,
    CatalogItemVariantsStream,
    CatalogVariantsStream,
)
from tap_klaviyo.streams.configuration import (
    CampaignRecipientEstimationsStream,
    CustomMetricsStream,
    ListFlowTriggersStream,
    MappedMetricsStream,
    MetricFlowTriggersStream,
    SegmentFlowTriggersStream,
    TrackingSettingsStream,
    WebFeedsStream,
    WebhookTopicsStream,
)
from tap_klaviyo.streams.consent import GlobalExclusionsStream, ListExclusionsStream
from tap_klaviyo.streams.coupons import CouponCodesStream, CouponsStream
from tap_klaviyo.streams.events import (
    EventAttributionsStream,
    EventsStream,
    MetricPropertiesStream,
    MetricsStream,
)
from tap_klaviyo.streams.flows import (
    FlowActionsStream,
    FlowMessagesStream,
    FlowsStream,
    FlowTagsStream,
)
from tap_klaviyo.streams.forms import FormsStream, FormVersionsStream
from tap_klaviyo.streams.lists import (
    ListMembersStream,
    ListSizesStream,
    ListsStream,
    ListTagsStream,
    SegmentMembersStream,
    SegmentSizesStream,
    SegmentsStream,
    SegmentTagsStream,
)
from tap_klaviyo.streams.objects import DataSourcesStream, ObjectRecordsStream, ObjectTypesStream
from tap_klaviyo.streams.profiles import ProfilesStream, PushTokensStream
from tap_klaviyo.streams.reporting import REPORT_STREAM_TYPES
from tap_klaviyo.streams.reviews import ReviewsStream
from tap_klaviyo.streams.templates import (
    ImagesStream,
    TagGroupsStream,
    TagsStream,
    TemplatesStream,
    TemplateUniversalContentStream,
)

STREAM_TYPES = [
    ProfilesStream,
    PushTokensStream,
    GlobalExclusionsStream,
    ListExclusionsStream,
    EventsStream,
    EventAttributionsStream,
    MetricsStream,
    MetricPropertiesStream,
    ListsStream,
    ListMembersStream,
    ListTagsStream,
    ListSizesStream,
    SegmentsStream,
    SegmentMembersStream,
    SegmentTagsStream,
    SegmentSizesStream,
    CampaignsStream,
    CampaignMessagesStream,
    CampaignTagsStream,
    FlowsStream,
    FlowActionsStream,
    FlowMessagesStream,
    FlowTagsStream,
    TemplatesStream,
    TemplateUniversalContentStream,
    ImagesStream,
    TagsStream,
    TagGroupsStream,
    CouponsStream,
    CouponCodesStream,
    CatalogItemsStream,
    CatalogVariantsStream,
    CatalogItemVariantsStream,
    CatalogCategoriesStream,
    CatalogItemCategoriesStream,
    FormsStream,
    FormVersionsStream,
    ReviewsStream,
    AccountsStream,
    WebhooksStream,
    WebhookTopicsStream,
    CustomMetricsStream,
    MappedMetricsStream,
    MetricFlowTriggersStream,
    ListFlowTriggersStream,
    SegmentFlowTriggersStream,
    WebFeedsStream,
    TrackingSettingsStream,
    CampaignRecipientEstimationsStream,
    ObjectTypesStream,
    ObjectRecordsStream,
    DataSourcesStream,
    # Reporting API and metric aggregates (not selected by default).
    *REPORT_STREAM_TYPES,
]
