"""Templates and tags."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoStream


class TemplatesStream(KlaviyoStream):
    name = "templates"
    path = "/api/templates"
    replication_key = "updated"


class TagsStream(KlaviyoStream):
    name = "tags"
    path = "/api/tags"
