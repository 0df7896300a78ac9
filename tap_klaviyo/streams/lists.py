"""Lists, segments, their members and their tags."""

from __future__ import annotations

from typing import Any

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream
from tap_klaviyo.pairs import RelatedIdsStream
from tap_klaviyo.traits import DailySnapshot


class GroupMembersStream(KlaviyoChildStream):
    """Profiles of a list or segment, keyed by the group and the profile."""

    id_field = "profile_id"
    replication_key = "joined_group_at"
    # Joining a group does not touch the group's `updated`, so every group is visited.
    ignore_parent_replication_key = True
    # Klaviyo lists no departures: every few days all members are read again and the
    # target drops (or marks deleted) the memberships that were not.
    full_refresh_setting = "members_full_refresh_days"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.primary_keys = (cls.parent_key, "profile_id")


class ListsStream(KlaviyoStream):
    name = "lists"
    path = "/api/lists"
    replication_key = "updated"
    child_key = "list_id"


class ListMembersStream(GroupMembersStream):
    name = "list_members"
    path = "/api/lists/{list_id}/profiles"
    parent_stream_type = ListsStream
    parent_key = "list_id"


class SegmentsStream(KlaviyoStream):
    name = "segments"
    path = "/api/segments"
    replication_key = "updated"
    child_key = "segment_id"


class SegmentMembersStream(GroupMembersStream):
    name = "segment_members"
    path = "/api/segments/{segment_id}/profiles"
    parent_stream_type = SegmentsStream
    parent_key = "segment_id"


class ListTagsStream(RelatedIdsStream):
    name = "list_tags"
    parent_stream_type = ListsStream
    parent_key = "list_id"
    relationship = "tags"


class SegmentTagsStream(RelatedIdsStream):
    name = "segment_tags"
    parent_stream_type = SegmentsStream
    parent_key = "segment_id"
    relationship = "tags"


class ListSizesStream(DailySnapshot, KlaviyoChildStream):
    """Each list's size (`profile_count`) once a day: a growth history. Klaviyo gives the
    size only on the single list's endpoint, at 15 requests a minute."""

    name = "list_sizes"
    path = "/api/lists/{list_id}"
    parent_stream_type = ListsStream
    parent_key = "list_id"
    id_field = "list_id"
    primary_keys = ("list_id", "date")
    selected_by_default = False
    snapshot_setting = "sizes_refresh_hours"

    def static_params(self) -> dict[str, str]:
        return {"additional-fields[list]": "profile_count"}


class SegmentSizesStream(DailySnapshot, KlaviyoChildStream):
    """Each segment's size once a day (15 requests a minute, as for lists)."""

    name = "segment_sizes"
    path = "/api/segments/{segment_id}"
    parent_stream_type = SegmentsStream
    parent_key = "segment_id"
    id_field = "segment_id"
    primary_keys = ("segment_id", "date")
    selected_by_default = False
    snapshot_setting = "sizes_refresh_hours"

    def static_params(self) -> dict[str, str]:
        return {"additional-fields[segment]": "profile_count"}
