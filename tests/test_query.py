"""The query string of a collection request: filters with only the operators each
endpoint accepts, sort, page size and includes."""

from __future__ import annotations

from datetime import datetime, timezone

from tap_klaviyo.tap import TapKlaviyo

START = datetime(2024, 3, 1, 12, 0, 5, tzinfo=timezone.utc)
END = datetime(2024, 4, 1, tzinfo=timezone.utc)


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
