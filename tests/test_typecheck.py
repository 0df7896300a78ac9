"""The record type check agrees with a JSON Schema validator, on its fast path too."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker

from tap_klaviyo.write.typecheck import compile_checker, is_date_time

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "null"]},
        "count": {"type": ["integer", "null"]},
        "value": {"type": ["number", "null"]},
        "flag": {"type": ["boolean", "null"]},
        "when": {"type": ["string", "null"], "format": "date-time"},
        "location": {
            "type": ["object", "null"],
            "properties": {"zip": {"type": ["string", "null"]}},
        },
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    },
}

VALID = [
    {"id": "a", "count": 3, "value": Decimal("1.5"), "flag": True},
    {"value": 7, "when": "2024-05-01T10:20:30+00:00", "location": {"zip": "02110"}},
    {"id": None, "count": None, "value": 2**70, "tags": ["x"], "either": 4, "extra": [1]},
]
INVALID = [
    ({"count": True}, "`count` is boolean, the schema allows integer/null"),
    ({"count": 1.5}, "`count` is number, the schema allows integer/null"),
    ({"flag": "yes"}, "`flag` is string, the schema allows boolean/null"),
    ({"id": 5}, "`id` is integer, the schema allows null/string"),
    ({"when": "2024-05-01"}, "`when` is '2024-05-01', not a date-time"),
    ({"location": {"zip": 2110}}, "`location.zip` is integer, the schema allows null/string"),
    ({"tags": ["x", 1]}, "`tags[1]` is integer, the schema allows string"),
    ({"either": 1.5}, "`either` is number, the schema allows string"),
]


@pytest.mark.parametrize("record", VALID)
def test_valid_records_pass(record: dict[str, Any]) -> None:
    assert not list(Draft7Validator(SCHEMA, format_checker=FormatChecker()).iter_errors(record))
    assert compile_checker(SCHEMA)(record, "") is None


@pytest.mark.parametrize(("record", "problem"), INVALID)
def test_invalid_records_name_the_field(record: dict[str, Any], problem: str) -> None:
    assert list(Draft7Validator(SCHEMA, format_checker=FormatChecker()).iter_errors(record))
    assert compile_checker(SCHEMA)(record, "") == problem


def test_a_string_of_digits_is_no_number() -> None:
    # msgspec would read "52.5" as a Decimal: numbers are not checked in its fast path.
    checker = compile_checker(
        {
            "type": ["object"],
            "properties": {"n": {"type": ["number", "null"]}, "s": {"type": ["string"]}},
        }
    )
    assert checker({"n": "52.5", "s": "x"}, "") == "`n` is string, the schema allows null/number"
    assert checker({"n": 52.5, "s": "x"}, "") is None


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        st.datetimes().map(lambda d: d.isoformat(sep=" ")),
        st.text(alphabet="0123456789-:Tt Zz+.", min_size=18, max_size=32),
    )
)
def test_date_times_checked_together_agree_with_one_by_one(value: str) -> None:
    # Date-times are checked in msgspec's pass with the plain properties; what it refuses
    # is looked at by is_date_time, so a record passes exactly when each of its
    # date-times is one, and a space for the T still becomes a T.
    record = {"id": "a", "when": value}
    problem = compile_checker(SCHEMA)(record, "")
    assert (problem is None) == is_date_time(value)
    if problem is None and value[10] == " ":
        assert record["when"] == f"{value[:10]}T{value[11:]}"
