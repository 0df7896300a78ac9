"""Klaviyo's JSON:API documents: resources flattened into records, pages decoded,
``links.next`` and error bodies read."""

from __future__ import annotations

import msgspec

from tap_klaviyo.transport.jsonapi import Resource, flatten_resource, related_ids


def resource(body: dict) -> Resource:
    """A resource as the tap decodes it from a page."""
    return msgspec.json.decode(msgspec.json.encode(body), type=Resource)


def test_flatten_puts_id_attributes_and_to_one_ids_at_top_level() -> None:
    event = {
        "type": "event",
        "id": "ev1",
        "attributes": {
            "datetime": "2024-03-01T00:00:00+00:00",
            "event_properties": {"value": 2**70, "items": [{"sku": "A"}]},
        },
        "relationships": {
            "profile": {"data": {"type": "profile", "id": "p1"}, "links": {}},
            "metric": {"data": {"type": "metric", "id": "m1"}},
            "attributions": {"data": [{"type": "attribution", "id": "a1"}]},
            "tag-group": {"data": {"type": "tag-group", "id": "tg"}},
        },
        "links": {"self": "https://a.klaviyo.com/api/events/ev1"},
    }
    assert flatten_resource(resource(event)) == {
        "id": "ev1",
        "datetime": "2024-03-01T00:00:00+00:00",
        "event_properties": {"value": 2**70, "items": [{"sku": "A"}]},
        "profile_id": "p1",
        "metric_id": "m1",
        "tag_group_id": "tg",
    }


def test_flatten_renames_id_and_keeps_attribute_over_relationship() -> None:
    member = {
        "id": "p1",
        "attributes": {"email": "a@example.com", "list_id": "from-attributes"},
        "relationships": {"list": {"data": {"type": "list", "id": "from-relationship"}}},
    }
    record = flatten_resource(resource(member), id_field="profile_id")
    assert record == {"profile_id": "p1", "email": "a@example.com", "list_id": "from-attributes"}


def test_related_ids_reads_to_many_relationships() -> None:
    campaign = {"relationships": {"tags": {"data": [{"type": "tag", "id": "t1"}, {"id": "t2"}]}}}
    assert related_ids(resource(campaign), ["tags"]) == {"tags_ids": ["t1", "t2"]}
    assert related_ids(resource({"relationships": {}}), ["tags"]) == {}
