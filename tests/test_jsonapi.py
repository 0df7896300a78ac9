"""Klaviyo's JSON:API documents: resources flattened into records, pages decoded,
``links.next`` and error bodies read."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
import requests

from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.transport.jsonapi import (
    Resource,
    decode_document,
    error_detail,
    flatten_resource,
    next_link,
    page_resources,
    related_ids,
    relationship_column,
    response_json,
)


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


def test_flatten_ignores_attributes_that_are_not_an_object() -> None:
    assert flatten_resource(resource({"id": "x", "attributes": None})) == {"id": "x"}
    assert flatten_resource(resource({"id": "x", "attributes": ["a"]})) == {"id": "x"}


def test_relationship_column_turns_dashes_into_underscores() -> None:
    assert relationship_column("tag-group") == "tag_group_id"
    assert relationship_column("profile") == "profile_id"


def test_related_ids_skip_to_one_relationships_and_ids_that_are_not_strings() -> None:
    body = {
        "relationships": {
            "tags": {"data": [{"id": "t1"}, {"id": 7}, {"id": None}]},
            "profile": {"data": {"id": "p1"}},
        }
    }
    assert related_ids(resource(body), ["tags", "profile", "missing"]) == {"tags_ids": ["t1"]}


def test_page_resources_keep_big_integers_and_decimals_exact() -> None:
    content = b'{"data": [{"id": "a", "attributes": {"n": 123456789012345678901234, "v": 0.1}}]}'
    [only] = page_resources(content, "https://a.klaviyo.com/api/events?x=1", "events")
    assert only.attributes == {"n": 123456789012345678901234, "v": Decimal("0.1")}


def test_a_single_resource_is_a_page_of_one() -> None:
    content = b'{"data": {"id": "acc", "attributes": {"name": "Shop"}}}'
    [only] = page_resources(content, "https://a.klaviyo.com/api/accounts/acc", "accounts")
    assert flatten_resource(only) == {"id": "acc", "name": "Shop"}


def test_a_body_that_is_not_a_document_stops_the_stream_naming_the_path() -> None:
    with pytest.raises(KlaviyoError) as caught:
        page_resources(b"<html>", "https://a.klaviyo.com/api/events?filter=x", "events")
    message = str(caught.value)
    assert message.startswith(
        "Stream 'events': response from /api/events is not a JSON:API document ("
    )
    # The query string (filters, cursors) is not part of the one-line message.
    assert "filter" not in message


def test_a_document_without_data_stops_the_stream() -> None:
    with pytest.raises(KlaviyoError) as caught:
        page_resources(b'{"links": {}}', "https://a.klaviyo.com/api/tags", "tags")
    assert str(caught.value) == "Stream 'tags': response from /api/tags has no `data`"


def test_decode_document_names_what_is_malformed() -> None:
    with pytest.raises(ValueError, match=r"\$\.data"):
        decode_document(b'{"data": 5}')


def response(body: bytes, status: int = 200, reason: str = "OK") -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made.reason = reason
    made._content = body
    made.url = "https://a.klaviyo.com/api/tags"
    return made


def test_error_detail_joins_klaviyos_errors_and_names_their_parameters() -> None:
    body = {
        "errors": [
            {"detail": "Invalid  cursor\n value.", "source": {"parameter": "page[cursor]"}},
            {"title": "Bad filter", "source": {"pointer": "/data/attributes/filter"}},
            {"detail": "No source here."},
            "not an object",
        ]
    }
    detail, parameters = error_detail(response(msgspec.json.encode(body), 400))
    assert detail == (
        "Invalid cursor value. (parameter: page[cursor]); "
        "Bad filter (parameter: /data/attributes/filter); No source here."
    )
    assert parameters == {"page[cursor]", "/data/attributes/filter"}


@pytest.mark.parametrize("body", [b"", b"<html>oops</html>", b"[1, 2]", b'{"errors": "x"}'])
def test_error_detail_falls_back_to_the_reason(body: bytes) -> None:
    assert error_detail(response(body, 503, "Service Unavailable")) == (
        "Service Unavailable",
        set(),
    )


def test_next_link_reads_links_next() -> None:
    link = "https://a.klaviyo.com/api/tags?page%5Bcursor%5D=abc"
    body = msgspec.json.encode({"data": [], "links": {"next": link, "self": "s"}})
    assert next_link(response(body)) == link
    assert next_link(response(b'{"data": [], "links": {"next": null}}')) is None
    assert next_link(response(b'{"data": []}')) is None


def test_next_link_refuses_a_body_that_is_not_json() -> None:
    with pytest.raises(ValueError):
        next_link(response(b'{"data": [], "links": {"next": "trunc'))


def test_response_json_parses_once_and_agrees_with_next_link() -> None:
    made = response(b'{"data": [], "links": {"next": "https://x/api/tags?page=2"}}')
    parsed = response_json(made)
    assert response_json(made) is parsed
    assert next_link(made) == "https://x/api/tags?page=2"
    with pytest.raises(ValueError, match="not a JSON object"):
        response_json(response(b"[1]"))
