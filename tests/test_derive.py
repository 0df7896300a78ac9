"""Columns derived from a record's own values (write/derive.py), and the events' ones."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from tap_klaviyo.streams.events import EventsStream
from tap_klaviyo.transport.jsonapi import Ref, Relationship, Resource
from tap_klaviyo.write.derive import Derived, Deriver, FromIncluded, value_at


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


def reference(columns: tuple[Derived, ...], maps: dict, record: dict) -> dict:
    """The declarations read column by column, path by path: what Deriver must equal."""
    for derived in columns:
        value = None
        if derived.when is not None and value_at(record, derived.when) in (None, ""):
            record.setdefault(derived.column, None)
            continue
        if derived.unless is not None and value_at(record, derived.unless) not in (None, ""):
            record.setdefault(derived.column, None)
            continue
        for path in derived.paths:
            value = value_at(record, path)
            if value not in (None, ""):
                break
        if derived.via is not None and value is not None:
            value = maps.get(derived.via, {}).get(value) if type(value) is str else None
        if value in ("", None):
            value = None
        elif derived.kind == "string" and not isinstance(value, str):
            value = str(value)
        record.setdefault(derived.column, value)
    return record


VALUES = st.one_of(st.none(), st.just(""), st.sampled_from(["F1", "M1", "x"]), st.integers(0, 9))
KEYS = ["$flow", "$message", "$variation", "Campaign Name", "$attributed_flow", "other"]
KEYS += ["$attributed_message", "$attributed_channel", "$attributed_event_id"]
PROPERTIES = st.dictionaries(
    st.sampled_from(KEYS),
    VALUES | st.dictionaries(st.sampled_from(["$flow", "$message", "$channel"]), VALUES),
)


@given(
    properties=st.none()
    | st.just("text")
    | PROPERTIES
    | st.dictionaries(st.just("$attribution"), PROPERTIES),
    metric=VALUES,
    own=st.dictionaries(st.sampled_from(["flow_id", "campaign_id", "metric_name"]), VALUES),
)
def test_the_deriver_equals_the_declarations_read_one_by_one(
    properties: object, metric: object, own: dict
) -> None:
    maps = {"metric_names": {"M1": "Placed Order"}}
    record = {"id": "e", "metric_id": metric, "event_properties": properties, **own}
    expected = reference(EventsStream.derived_columns, maps, copy.deepcopy(record))
    assert Deriver(EventsStream.derived_columns, maps)(record) == expected


def test_conditions_outside_the_paths_root_are_read_from_the_record() -> None:
    columns = (
        Derived("a", (("p", "x"),), when=("q",)),
        Derived("b", (("p", "x"),), unless=("r", "y")),
        Derived("c", (("p", "x"), ("top",))),
    )
    for record in (
        {"p": {"x": "v"}, "q": 1, "r": {"y": 2}, "top": "t"},
        {"p": {"x": "v"}, "r": {}},
        {"p": {}, "top": "t"},
    ):
        assert Deriver(columns, {})(dict(record)) == reference(columns, {}, dict(record))
