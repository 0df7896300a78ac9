"""What the extract does not say about resources: URL names, relationships, hidden attributes.

Taken from the response schemas in Klaviyo's OpenAPI spec (revision 2026-07-15).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    target: str
    many: bool
    # Name of the relationship on the target that points back, kept in sync by SimData.link().
    inverse: str | None = None
    # False for relationships that have an endpoint but do not appear in the resource's
    # "relationships" object in the spec's response schema.
    exposed: bool = True
    # Only shown by operations that can include it (the spec's response schema differs).
    only_if_includable: bool = False


# URL segment -> JSON:API type, for every collection the simulator knows by name.
COLLECTIONS: dict[str, str] = {
    "accounts": "account",
    "profiles": "profile",
    "events": "event",
    "metrics": "metric",
    "metric-properties": "metric-property",
    "custom-metrics": "custom-metric",
    "mapped-metrics": "mapped-metric",
    "lists": "list",
    "segments": "segment",
    "campaigns": "campaign",
    "campaign-messages": "campaign-message",
    "flows": "flow",
    "flow-actions": "flow-action",
    "flow-messages": "flow-message",
    "templates": "template",
    "template-universal-content": "template-universal-content",
    "tags": "tag",
    "tag-groups": "tag-group",
    "coupons": "coupon",
    "coupon-codes": "coupon-code",
    "catalog-items": "catalog-item",
    "catalog-variants": "catalog-variant",
    "catalog-categories": "catalog-category",
    "images": "image",
    "forms": "form",
    "form-versions": "form-version",
    "webhooks": "webhook",
    "webhook-topics": "webhook-topic",
    "reviews": "review",
    "push-tokens": "push-token",
    "tracking-settings": "tracking-setting",
    "web-feeds": "web-feed",
    "data-sources": "data-source",
}
TYPE_COLLECTIONS: dict[str, str] = {v: k for k, v in COLLECTIONS.items()}

R = Relation
RELATIONS: dict[str, dict[str, Relation]] = {
    "profile": {
        "lists": R("list", True, "profiles"),
        "segments": R("segment", True, "profiles"),
        "push-tokens": R("push-token", True, "profile"),
        "conversations": R("conversation", True, only_if_includable=True),
    },
    "event": {
        "profile": R("profile", False),
        "metric": R("metric", False),
        "attributions": R("attribution", True, "event"),
    },
    # Attribution of a conversion event (include=attributions on events); no attributes.
    "attribution": {
        "event": R("event", False, "attributions"),
        "attributed-event": R("event", False),
        "campaign": R("campaign", False),
        "campaign-message": R("campaign-message", False),
        "flow": R("flow", False),
        "flow-message": R("flow-message", False),
        "flow-message-variation": R("flow-message", False),
    },
    "metric": {
        "flow-triggers": R("flow", True),
        "metric-properties": R("metric-property", True, "metric", exposed=False),
    },
    "metric-property": {"metric": R("metric", False, "metric-properties")},
    "custom-metric": {"metrics": R("metric", True)},
    "mapped-metric": {
        "metric": R("metric", False),
        "custom-metric": R("custom-metric", False),
    },
    "list": {
        "profiles": R("profile", True, "lists"),
        "tags": R("tag", True, "lists"),
        "flow-triggers": R("flow", True),
    },
    "segment": {
        "profiles": R("profile", True, "segments"),
        "tags": R("tag", True, "segments"),
        "flow-triggers": R("flow", True),
    },
    "campaign": {
        "campaign-messages": R("campaign-message", True, "campaign"),
        "tags": R("tag", True, "campaigns"),
    },
    "campaign-message": {
        "campaign": R("campaign", False, "campaign-messages"),
        "template": R("template", False),
        "image": R("image", False),
    },
    "flow": {
        "flow-actions": R("flow-action", True, "flow"),
        "tags": R("tag", True, "flows"),
    },
    "flow-action": {
        "flow": R("flow", False, "flow-actions"),
        "flow-messages": R("flow-message", True, "flow-action"),
    },
    "flow-message": {
        "flow-action": R("flow-action", False, "flow-messages"),
        "template": R("template", False),
    },
    "tag": {
        "tag-group": R("tag-group", False, "tags"),
        "lists": R("list", True, "tags"),
        "segments": R("segment", True, "tags"),
        "campaigns": R("campaign", True, "tags"),
        "flows": R("flow", True, "tags"),
    },
    "tag-group": {"tags": R("tag", True, "tag-group")},
    "coupon": {"coupon-codes": R("coupon-code", True, "coupon", exposed=False)},
    "coupon-code": {
        "coupon": R("coupon", False, "coupon-codes"),
        "profile": R("profile", False),
    },
    "catalog-item": {
        "variants": R("catalog-variant", True, "item"),
        "categories": R("catalog-category", True, "items", exposed=False),
    },
    "catalog-variant": {"item": R("catalog-item", False, "variants")},
    "catalog-category": {"items": R("catalog-item", True, "categories")},
    "form": {"form-versions": R("form-version", True, "form")},
    "form-version": {"form": R("form", False, "form-versions")},
    "webhook": {"webhook-topics": R("webhook-topic", True)},
    "review": {
        "events": R("event", True),
        "item": R("catalog-item", False),
    },
    "push-token": {"profile": R("profile", False, "push-tokens")},
    # Custom objects.
    "object-type": {
        "current-schema": R("object-schema", False),
        "draft-schema": R("object-schema", False),
        "schema-versions": R("object-schema", True),
        "object-types": R("object-type", True),
        "profile-object-types": R("profile-object-type", True),
        "object-records": R("object-record", True, exposed=False),
        "object-ingestion-logs": R("object-ingestion-log", True, exposed=False),
    },
    "object-schema": {
        "source-mapping": R("source-mapping", False),
        "object-schemas": R("object-schema", True),
        "profile-object-schemas": R("profile-object-schema", True),
    },
}
del R

# Resources the spec gives no "attributes" member.
WITHOUT_ATTRIBUTES = frozenset({"attribution", "webhook-topic"})

# Attributes returned only when asked for with additional-fields[type]=...
ADDITIONAL_ATTRIBUTES: dict[str, frozenset[str]] = {
    "profile": frozenset({"subscriptions", "predictive_analytics"}),
    "metric-property": frozenset({"sample_values"}),
    "template": frozenset({"definition"}),
    "flow": frozenset({"definition"}),
}
# Additional fields the simulator computes instead of storing.
COMPUTED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "list": frozenset({"profile_count"}),
    "segment": frozenset({"profile_count"}),
}

# Filter fields of the form "<relationship>.id" use these names, not the relationship's.
FILTER_RELATION_ALIASES: dict[tuple[str, str], str] = {
    ("catalog-item", "category"): "categories",
    ("catalog-category", "item"): "items",
    ("catalog-variant", "item"): "item",
    ("coupon-code", "coupon"): "coupon",
    ("coupon-code", "profile"): "profile",
    ("push-token", "profile"): "profile",
    ("review", "item"): "item",
}

# Types whose modification timestamp is called "updated_at" rather than "updated".
UPDATED_AT_TYPES = frozenset(
    {"campaign", "campaign-message", "image", "form", "form-version", "webhook"}
)


def collection_for(resource_type: str) -> str:
    if resource_type in TYPE_COLLECTIONS:
        return TYPE_COLLECTIONS[resource_type]
    if resource_type.endswith("y"):
        return resource_type[:-1] + "ies"
    return resource_type + "s"


def type_for_collection(collection: str) -> str:
    if collection in COLLECTIONS:
        return COLLECTIONS[collection]
    if collection.endswith("ies"):
        return collection[:-3] + "y"
    return collection.removesuffix("s")


def relation(resource_type: str, name: str) -> Relation | None:
    return RELATIONS.get(resource_type, {}).get(name)
