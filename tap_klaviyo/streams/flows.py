"""Flows, their actions, the actions' messages and the flows' tags."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream
from tap_klaviyo.pairs import RelatedIdsStream


class FlowsStream(KlaviyoStream):
    name = "flows"
    path = "/api/flows"
    replication_key = "updated"
    child_key = "flow_id"
    # Archived flows are hidden unless asked for.
    static_partitions = [{"archived": False}, {"archived": True}]
    context_filters = {"archived": "archived"}


class FlowActionsStream(KlaviyoChildStream):
    """Klaviyo does not promise that editing an action moves its flow's `updated`,
    so every flow is visited; each flow's own bookmark keeps the request to one page."""

    name = "flow_actions"
    path = "/api/flows/{flow_id}/flow-actions"
    parent_stream_type = FlowsStream
    parent_key = "flow_id"
    replication_key = "updated"
    child_key = "flow_action_id"
    ignore_parent_replication_key = True


class FlowMessagesStream(KlaviyoChildStream):
    """Editing a message need not move its action's `updated`: every action is visited."""

    name = "flow_messages"
    path = "/api/flow-actions/{flow_action_id}/flow-messages"
    parent_stream_type = FlowActionsStream
    parent_key = "flow_action_id"
    replication_key = "updated"
    ignore_parent_replication_key = True


class FlowTagsStream(RelatedIdsStream):
    name = "flow_tags"
    parent_stream_type = FlowsStream
    parent_key = "flow_id"
    relationship = "tags"
