"""Malformed API payloads give a clear error or a schema-valid record, never a crash."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, FormatChecker

from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.tap import TapKlaviyo

TAP = TapKlaviyo(config={"api_key": "pk_fuzz"})
STREAMS = ["events", "profiles", "campaigns", "list_members", "metrics"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["2024-05-01T10:20:30+00:00", "2024-05-01", "yesterday", ""]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


# The schema's names as generated: the streams' schemas widen as the examples run.
NAMES = {stream: list(TAP.streams[stream].schema["properties"]) for stream in STREAMS}


def attribute_values(stream: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(NAMES[stream]), json_values, max_size=6)


@st.composite
def payloads(draw: st.DrawFn, stream: str) -> Any:
    resource = st.fixed_dictionaries(
        {},
        optional={
            "type": st.text(max_size=5),
            "id": st.one_of(st.text(min_size=1, max_size=8), scalars),
            "attributes": st.one_of(attribute_values(stream), json_values),
            "relationships": st.one_of(
                json_values,
                st.dictionaries(
                    st.sampled_from(["profile", "metric", "tags", "list"]),
                    st.fixed_dictionaries({"data": json_values}),
                    max_size=2,
                ),
            ),
        },
    )
    data = st.one_of(st.lists(resource, max_size=4), resource, json_values)
    return draw(
        st.one_of(
            st.fixed_dictionaries({"data": data, "links": st.just({"next": None})}),
            json_values,
        )
    )


def response_with(body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.url = "https://a.klaviyo.com/api/x"
    return response


@pytest.mark.parametrize("stream_name", STREAMS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_payload_gives_clear_error_or_valid_record(stream_name: str, data: st.DataObject) -> None:
    stream = TAP.streams[stream_name]
    body = msgspec.json.encode(data.draw(payloads(stream_name)))
    context = {stream.parent_key: "parent1"} if hasattr(stream, "parent_key") else None
    try:
        records = [
            stream.post_process(r, context) for r in stream.parse_response(response_with(body))
        ]
    except KlaviyoError as error:
        message = str(error)
        assert message and "\n" not in message
        assert f"Stream '{stream_name}'" in message
        return
    # Records fit the stream's schema as it is now: widened where they needed it.
    validator = Draft7Validator(stream.schema, format_checker=FormatChecker())
    for record in records:
        assert record is not None
        known = {k: v for k, v in record.items() if k in stream.schema["properties"]}
        errors = list(validator.iter_errors(known))
        assert not errors, errors[0].message
