"""Schemas follow what Klaviyo sends: nothing is dropped, no run dies over a record's
shape, and every record fits the last SCHEMA sent before it."""

from __future__ import annotations

import copy
import logging
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker

from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.write.widen import EvolvingSchema, RecordCheck, Widening, apply, inferred
from tests.conftest import run_tap

SCHEMA: dict[str, Any] = {
    "type": ["object"],
    "properties": {
        "id": {"type": ["string"]},
        "updated": {"type": ["string", "null"], "format": "date-time"},
        "score": {"type": ["number", "null"]},
        "location": {
            "type": ["object", "null"],
            "properties": {"latitude": {"type": ["number", "null"]}},
        },
        "lines": {"type": ["array", "null"], "items": {"type": ["string", "null"]}},
        "send": {"anyOf": [{"type": ["object"]}, {"type": ["null"]}]},
    },
}


class Announced:
    """What an EvolvingSchema installs and sends."""

    def __init__(self) -> None:
        self.installed: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []

    def evolving(self, logger: logging.Logger | None = None) -> EvolvingSchema:
        return EvolvingSchema(
            "profiles",
            copy.deepcopy(SCHEMA),
            install=self.installed.append,
            send=lambda schema: self.sent.append(copy.deepcopy(schema)),
            logger=logger or logging.getLogger("tap-test"),
        )


def check_for(evolving: EvolvingSchema) -> RecordCheck:
    return RecordCheck("profiles", evolving.schema, "id", "updated", evolving.widened)


def valid(schema: dict[str, Any], record: dict[str, Any]) -> list[str]:
    validator = Draft7Validator(schema, format_checker=FormatChecker())
    return [e.message for e in validator.iter_errors(record)]


def test_an_attribute_the_schema_lacks_is_added_not_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen = Announced()
    evolving = seen.evolving()
    check = check_for(evolving)
    record = {"id": "p1", "anonymous_id": "a-1", "bits": [1, 2], "flag": True}
    assert check(dict(record)) == record
    with caplog.at_level(logging.WARNING):
        evolving.announce_pending()
    properties = seen.sent[-1]["properties"]
    assert properties["anonymous_id"] == {"type": ["string", "null"]}
    assert properties["bits"] == {"type": ["array", "null"], "items": {}}
    assert properties["flag"] == {"type": ["boolean", "null"]}
    assert valid(seen.sent[-1], record) == []
    assert sorted(r.getMessage() for r in caplog.records) == [
        "Stream 'profiles': Klaviyo sent `anonymous_id`, which the schema lacks: added as "
        "string/null (a new SCHEMA message says so)",
        "Stream 'profiles': Klaviyo sent `bits`, which the schema lacks: added as array/null "
        "(a new SCHEMA message says so)",
        "Stream 'profiles': Klaviyo sent `flag`, which the schema lacks: added as "
        "boolean/null (a new SCHEMA message says so)",
    ]
    # Once per property: the same attribute again changes nothing and says nothing.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        check({"id": "p2", "anonymous_id": None})
        evolving.announce_pending()
    assert len(seen.sent) == 1 and not caplog.records


def test_values_of_another_type_widen_the_place_they_are_in() -> None:
    seen = Announced()
    evolving = seen.evolving()
    check = check_for(evolving)
    record = {
        "id": "p1",
        "score": "high",
        "location": {"latitude": "52.5"},
        "lines": ["a", 7],
        "send": "soon",
        "updated": "yesterday",
    }
    assert check(copy.deepcopy(record)) == record
    evolving.announce_pending()
    schema = seen.sent[-1]
    properties = schema["properties"]
    assert properties["score"]["type"] == ["number", "null", "string"]
    assert properties["location"]["properties"]["latitude"]["type"] == ["number", "null", "string"]
    assert properties["lines"]["items"]["type"] == ["string", "null", "integer"]
    assert {"type": ["string"]} in properties["send"]["anyOf"]
    # A string that is no date-time lifts the format; the column stays a string.
    assert properties["updated"] == {"type": ["string", "null"]}
    assert valid(schema, record) == []
    # The checker follows: the same record passes without another change.
    check(copy.deepcopy(record))
    assert evolving.drain() == []


def test_space_separated_date_times_become_rfc_3339() -> None:
    check = check_for(Announced().evolving())
    nested = {
        "type": ["object"],
        "properties": {"consent": {"type": ["string", "null"], "format": "date-time"}},
    }
    check.adopt({**SCHEMA, "properties": {**SCHEMA["properties"], "subscriptions": nested}})
    record = check(
        {
            "id": "p1",
            "updated": "2023-08-10 07:21:56+00:00",
            "subscriptions": {"consent": "2023-08-10 07:21:56+00:00"},
        }
    )
    assert record["updated"] == "2023-08-10T07:21:56+00:00"
    assert record["subscriptions"]["consent"] == "2023-08-10T07:21:56+00:00"


def test_changes_made_in_a_worker_process_are_adopted_before_its_page() -> None:
    """A worker's record check widens its own copy; the page carries the changes and the
    tap's own process adopts them, and sends the schema, before writing the page."""
    here, there = Announced(), Announced()
    parent, worker = here.evolving(), there.evolving()
    check_for(worker)({"id": "w1", "anonymous_id": 5})
    check_for(worker)({"id": "w2", "title": "x"})
    page_changes = worker.drain()
    # Another worker typed the same attribute from a string.
    other = Announced().evolving()
    check_for(other)({"id": "w3", "anonymous_id": "a"})
    parent.announce(page_changes)
    parent.announce(other.drain())
    assert parent.schema["properties"]["anonymous_id"]["type"] == ["integer", "null", "string"]
    assert parent.schema["properties"]["title"] == {"type": ["string", "null"]}
    assert len(here.sent) == 2 and here.installed[-1] is parent.schema
    # Announcing what is already in does not send again.
    parent.announce(page_changes)
    assert len(here.sent) == 2


def test_a_replication_key_that_is_no_date_time_is_kept_as_sent() -> None:
    check = check_for(Announced().evolving())
    assert check({"id": "p", "updated": "2024-01-02T03:04:05Z"})["updated"] == (
        "2024-01-02T03:04:05+00:00"
    )
    assert check({"id": "q", "updated": "soon"})["updated"] == "soon"


def test_inferred_types() -> None:
    assert inferred("x") == {"type": ["string", "null"]}
    assert inferred(None) == {"type": ["string", "null"]}
    assert inferred(1) == {"type": ["integer", "null"]}
    assert inferred(Decimal("1.5")) == {"type": ["number", "null"]}
    assert inferred({"a": 1}) == {"type": ["object", "null"]}
    assert inferred([1]) == {"type": ["array", "null"], "items": {}}
    schema = copy.deepcopy(SCHEMA)
    assert not apply(schema, Widening(("score",), "integer")), "an integer is a number"
    assert apply(schema, Widening(("score",), "boolean"))
    assert not apply(schema, Widening(("score",), "boolean"))


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.text(max_size=5),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(
        st.dictionaries(
            st.sampled_from(["score", "location", "lines", "send", "extra", "other"]),
            json_values,
            max_size=5,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_every_record_fits_the_last_schema_sent_before_it(records: list[dict[str, Any]]) -> None:
    seen = Announced()
    evolving = seen.evolving()
    check = check_for(evolving)
    for number, attributes in enumerate(records):
        record = check({"id": f"p{number}", **attributes})
        evolving.announce_pending()
        schema = seen.sent[-1] if seen.sent else SCHEMA
        assert valid(schema, record) == []


def test_a_run_widens_and_sends_the_schema_before_the_record(
    sim: Any, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Over the simulator: an attribute Klaviyo added and a value of another type, on
    both the page-at-a-time path (lists alone) and the record loop (with members)."""
    target = sorted(sim.data.ids("list"))[3]
    sim.data.update("list", target, favorite_color="teal", name=12345)
    for streams in (["lists"], ["lists", "list_members"]):
        sim.reset_rate_limits()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            run = run_tap(config, streams=streams)
        lists = [m for m in run.messages if m.get("stream") == "lists"]
        schemas = [i for i, m in enumerate(lists) if m["type"] == "SCHEMA"]
        assert len(schemas) == 2, streams
        at = next(i for i, m in enumerate(lists) if m.get("record", {}).get("id") == target)
        assert schemas[1] < at
        widened = lists[schemas[1]]["schema"]
        assert widened["properties"]["favorite_color"] == {"type": ["string", "null"]}
        assert "integer" in widened["properties"]["name"]["type"]
        record = lists[at]["record"]
        assert record["favorite_color"] == "teal" and record["name"] == 12345
        for message in lists[schemas[1] :]:
            if message["type"] == "RECORD":
                assert valid(widened, message["record"]) == []
        assert len(run.records["lists"]) == len(sim.data.ids("list"))
        warned = [r.getMessage() for r in caplog.records if "SCHEMA message" in r.getMessage()]
        assert len(warned) == 2, warned


def test_a_primary_key_of_another_type_stops_the_stream_instead_of_widening() -> None:
    evolving = Announced().evolving()
    check = RecordCheck(
        "profiles", evolving.schema, "id", "updated", evolving.widened, primary_keys=("id",)
    )
    with pytest.raises(KlaviyoError) as caught:
        check({"id": [], "updated": "2024-01-02T03:04:05+00:00"})
    assert str(caught.value) == (
        "Stream 'profiles': record [] does not fit the schema: `id` is array, "
        "the schema allows string."
    )
    assert evolving.schema["properties"]["id"]["type"] == ["string"]
