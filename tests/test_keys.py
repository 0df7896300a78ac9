"""A page's keys and next link from one pass over its body (read/keys.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

from tap_klaviyo.read.keys import read_keys


def body(data: object, next_link: str | None = "https://a.klaviyo.com/api/events?page=2") -> bytes:
    return msgspec.json.encode({"data": data, "links": {"next": next_link}})


def test_keys_come_from_attributes_as_zoned_date_times_and_the_link_from_links() -> None:
    page = body(
        [
            {"type": "event", "id": "e1", "attributes": {"datetime": "2024-01-01T00:00:05Z"}},
            {"type": "event", "id": "e2", "attributes": {"datetime": "2024-01-01T02:00:06+02:00"}},
        ]
    )
    keys, link = read_keys("datetime", True, page)  # type: ignore[misc]
    assert keys == [
        datetime(2024, 1, 1, 0, 0, 5, tzinfo=timezone.utc),
        datetime(2024, 1, 1, 0, 0, 6, tzinfo=timezone.utc),
    ]
    assert link == "https://a.klaviyo.com/api/events?page=2"


def test_flat_records_and_date_times_without_an_offset_are_read_untyped() -> None:
    # The typed reading is strict so that it needs no check per key; what it refuses
    # is read again untyped, where the slice reader parses each value (a date-time
    # without an offset is UTC there).
    for data in (
        [{"id": "e2", "datetime": "2024-01-01T00:00:06+00:00"}],
        [{"id": "e3", "attributes": {"datetime": "2024-01-01T00:00:07"}}],
    ):
        assert read_keys("datetime", True, body(data)) is None
    flat = body([{"id": "e2", "datetime": "2024-01-01T00:00:06+00:00"}], None)
    assert read_keys("datetime", False, flat) == (["2024-01-01T00:00:06+00:00"], None)


def test_a_key_that_is_no_date_time_fails_typed_and_reads_untyped() -> None:
    page = body([{"id": "e1", "attributes": {"datetime": "yesterday"}}, {"id": "e2"}], None)
    assert read_keys("datetime", True, page) is None
    assert read_keys("datetime", False, page) == (["yesterday", None], None)


def test_a_body_that_is_no_page_of_resources_is_none() -> None:
    assert read_keys("datetime", False, b"<html>busy</html>") is None
    assert read_keys("datetime", False, b'{"errors": []}') is None
    assert read_keys("datetime", False, body([], "")) == ([], None)
