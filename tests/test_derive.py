"""Columns derived from a record's own values (write/derive.py), and the events' ones."""

from __future__ import annotations

from tap_klaviyo.streams.events import EventsStream
from tap_klaviyo.transport.jsonapi import Ref, Relationship, Resource
from tap_klaviyo.write.derive import Derived, Deriver, FromIncluded


def derive(record: dict) -> dict:
    return Deriver(EventsStream.derived_columns, {"metric_names": {"M1": "Placed Order"}})(record)


def test_a_flow_message_event_names_its_flow_and_message_not_a_campaign() -> None:
    record = derive(
        {
            "metric_id": "M1",
            "event_properties": {"$flow": "F1", "$message": "FM1", "Campaign Name": "Flow | x"},
        }
    )
    assert record["metric_name"] == "Placed Order"
    assert (record["flow_id"], record["flow_message_id"], record["campaign_id"]) == (
        "F1",
        "FM1",
        None,
    )


def test_a_campaign_event_names_its_campaign() -> None:
    record = derive({"event_properties": {"$message": "C1", "Campaign Name": "Spring sale"}})
    assert (record["campaign_id"], record["flow_id"], record["flow_message_id"]) == (
        "C1",
        None,
        None,
    )
    assert record["metric_name"] is None


def test_attribution_comes_from_either_place_and_empty_values_are_null() -> None:
    record = derive(
        {
            "event_properties": {
                "$attribution": {"$attributed_event_id": "E9", "$flow": "F2"},
                "$attributed_message": "",
                "$attributed_channel": "email",
                "$variation": 7,
            }
        }
    )
    assert record["attributed_event_id"] == "E9"
    assert record["attributed_flow_id"] == "F2"
    assert record["attributed_message_id"] is None
    assert record["attributed_channel"] == "email"
    assert record["variation_id"] == "7"


def test_no_properties_no_columns_but_null_ones() -> None:
    record = derive({"id": "e", "event_properties": None})
    columns = {d.column for d in EventsStream.derived_columns}
    assert columns <= record.keys() and all(record[c] is None for c in columns)


def test_a_record_s_own_value_wins() -> None:
    deriver = Deriver((Derived("flow_id", (("event_properties", "$flow"),)),), {})
    assert deriver({"flow_id": "own", "event_properties": {"$flow": "F"}})["flow_id"] == "own"


def attribution(id_: str, event: str) -> Resource:
    return Resource(
        type="attribution",
        id=id_,
        relationships={"event": Relationship(Ref(event)), "flow": Relationship(Ref("F1"))},
    )


def test_rows_from_included_come_in_their_records_order_and_none_is_dropped() -> None:
    rows = FromIncluded("attribution", owner="event_id", keep=("datetime",)).rows(
        [{"id": "E1", "datetime": "2026-01-01"}, {"id": "E2", "datetime": "2026-01-02"}],
        [
            attribution("A2", "E2"),
            Resource(type="profile", id="P1"),
            attribution("A1", "E1"),
            attribution("A9", "E9"),
        ],
    )
    assert rows == [
        {"id": "A1", "event_id": "E1", "flow_id": "F1", "datetime": "2026-01-01"},
        {"id": "A2", "event_id": "E2", "flow_id": "F1", "datetime": "2026-01-02"},
        # Naming an event the page does not hold: kept, with nothing joined.
        {"id": "A9", "event_id": "E9", "flow_id": "F1", "datetime": None},
    ]
