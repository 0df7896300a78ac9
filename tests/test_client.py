"""The base stream's pure parts: flattening and the filters it builds per endpoint."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import pytest

from tap_klaviyo.tap import TapKlaviyo
from tap_klaviyo.transport.jsonapi import Resource, flatten_resource, related_ids
from tap_klaviyo.write.sink import bookmark_rows

START = datetime(2024, 3, 1, 12, 0, 5, tzinfo=timezone.utc)
END = datetime(2024, 4, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def tap() -> TapKlaviyo:
    return TapKlaviyo(config={"api_key": "pk_unit"})


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


def test_profiles_use_only_greater_than_and_less_than(tap: TapKlaviyo) -> None:
    # profiles.updated accepts greater-than and less-than only; the lower bound steps
    # back one second so records stamped exactly at the bookmark are read again.
    assert tap.streams["profiles"].query.bound_terms(START, END) == [
        "greater-than(updated,2024-03-01T12:00:04+00:00)",
        "less-than(updated,2024-04-01T00:00:00+00:00)",
    ]


def test_events_use_inclusive_lower_bound(tap: TapKlaviyo) -> None:
    assert tap.streams["events"].query.bound_terms(START, END) == [
        "greater-or-equal(datetime,2024-03-01T12:00:05+00:00)",
        "less-than(datetime,2024-04-01T00:00:00+00:00)",
    ]


def test_lists_have_no_upper_bound_operator(tap: TapKlaviyo) -> None:
    # lists.updated accepts greater-than only; the end bound is applied client-side.
    assert tap.streams["lists"].query.bound_terms(START, END) == [
        "greater-than(updated,2024-03-01T12:00:04+00:00)"
    ]


def test_campaign_request_carries_channel_and_archived_filters(tap: TapKlaviyo) -> None:
    stream = tap.streams["campaigns"]
    params = stream.get_url_params({"channel": "sms", "archived": True}, None)
    assert params["filter"].startswith(
        "and(equals(messages.channel,'sms'),equals(archived,true),less-than(updated_at,"
    )
    assert params["sort"] == "updated_at"
    assert params["page[size]"] == 100
    assert params["include"] == "tags"


def test_full_table_stream_sends_no_filter_or_sort(tap: TapKlaviyo) -> None:
    assert tap.streams["metrics"].get_url_params(None, None) == {}
    assert tap.streams["tags"].get_url_params(None, None) == {"page[size]": 50}


def test_a_page_moves_the_bookmark_through_its_first_and_last_record(tap: TapKlaviyo) -> None:
    # The first still meets the SDK's sort check, the last sets the bookmark; a page out
    # of order (or with a null key) goes record by record so the SDK judges each one.
    key = tap.streams["profiles"].replication_key
    ordered = [{"updated": f"2024-01-0{day}T00:00:00+00:00"} for day in (1, 2, 2, 3)]
    assert bookmark_rows(ordered, key) == [ordered[0], ordered[-1]]
    shuffled = [ordered[1], ordered[0], ordered[3]]
    assert bookmark_rows(shuffled, key) == shuffled
    with_null = [ordered[0], {"updated": None}, ordered[3]]
    assert bookmark_rows(with_null, key) == with_null
    assert bookmark_rows(ordered[:1], key) == ordered[:1]
