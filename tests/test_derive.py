"""Columns derived from a record's own values (write/derive.py), and the events' ones."""

from __future__ import annotations

from tap_klaviyo.streams.events import EventsStream
from tap_klaviyo.write.derive import Derived, Deriver


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
