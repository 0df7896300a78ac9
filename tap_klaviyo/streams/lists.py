"""Lists, segments, their members and their tags."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream, RelatedIdsStream


class ListsStream(KlaviyoStream):
    name = "lists"
    path = "/api/lists"
    replication_key = "updated"
    child_key = "list_id"


class ListMembersStream(KlaviyoChildStream):
    name = "list_members"
    path = "/api/lists/{list_id}/profiles"
    parent_stream_type = ListsStream
    parent_key = "list_id"
    primary_keys = ("list_id", "profile_id")
    id_field = "profile_id"
    replication_key = "joined_group_at"
    # Joining a list does not touch the list's `updated`, so every list is visited.
    ignore_parent_replication_key = True


class SegmentsStream(KlaviyoStream):
    name = "segments"
    path = "/api/segments"
    replication_key = "updated"
    child_key = "segment_id"


class SegmentMembersStream(KlaviyoChildStream):
    name = "segment_members"
    path = "/api/segments/{segment_id}/profiles"
    parent_stream_type = SegmentsStream
    parent_key = "segment_id"
    primary_keys = ("segment_id", "profile_id")
    id_field = "profile_id"
    replication_key = "joined_group_at"
    ignore_parent_replication_key = True


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
