"""Templates, universal content blocks, images; tags and tag groups."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoStream


class TemplatesStream(KlaviyoStream):
    name = "templates"
    path = "/api/templates"
    replication_key = "updated"


class TemplateUniversalContentStream(KlaviyoStream):
    name = "template_universal_content"
    path = "/api/template-universal-content"
    replication_key = "updated"


class ImagesStream(KlaviyoStream):
    name = "images"
    path = "/api/images"
    replication_key = "updated_at"


class TagsStream(KlaviyoStream):
    name = "tags"
    path = "/api/tags"


class TagGroupsStream(KlaviyoStream):
    name = "tag_groups"
    path = "/api/tag-groups"
