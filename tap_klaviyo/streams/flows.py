"""Flows."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoStream


class FlowsStream(KlaviyoStream):
    name = "flows"
    path = "/api/flows"
    replication_key = "updated"
    child_key = "flow_id"
    # Archived flows are hidden unless asked for.
    static_partitions = [{"archived": False}, {"archived": True}]
    context_filters = {"archived": "archived"}
