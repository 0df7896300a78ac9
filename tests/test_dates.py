"""Date-times as the tap writes them: one canonical UTC form for filters and bookmarks,
read back to the same instant."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_klaviyo.dates import (
    CLOCK,
    duration,
    is_canonical,
    parse_datetime,
    utc_iso,
    whole_second,
)

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)


@given(moment=aware)
def test_utc_iso_reads_back_as_the_same_instant(moment: datetime) -> None:
    text = utc_iso(moment)
    assert text.endswith("+00:00")
    assert parse_datetime(text) == moment
    assert parse_datetime(text).utcoffset() == timedelta(0)


@given(moment=aware)
def test_canonical_means_whole_seconds_in_utc(moment: datetime) -> None:
    assert is_canonical(utc_iso(moment)) is (moment.microsecond == 0)
    assert is_canonical(utc_iso(whole_second(moment)))
    assert utc_iso(parse_datetime(utc_iso(moment))) == utc_iso(moment)


@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_a_naive_date_time_is_utc(moment: datetime) -> None:
    assert utc_iso(moment) == utc_iso(moment.replace(tzinfo=timezone.utc))
    assert parse_datetime(moment.isoformat()) == moment.replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05+00:00"),
        ("2024-01-02T05:04:05+02:00", "2024-01-02T03:04:05+00:00"),
        ("2024-01-01T23:00:00-05:00", "2024-01-02T04:00:00+00:00"),
        ("2024-01-02T03:04:05.250000+00:00", "2024-01-02T03:04:05.250000+00:00"),
    ],
)
def test_klaviyo_forms_become_canonical(text: str, canonical: str) -> None:
    assert utc_iso(parse_datetime(text)) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05+02:00",
        "2024-01-02T03:04:05.1+00:00",
        "2024-01-02 03:04:05+00:00",
        "2024-01-02",
    ],
)
def test_only_the_canonical_form_is_canonical(text: str) -> None:
    assert not is_canonical(text)


def test_parse_datetime_refuses_what_is_not_a_date_time() -> None:
    with pytest.raises(ValueError):
        parse_datetime("yesterday")


def test_the_clock_tells_utc_time() -> None:
    before = datetime.now(timezone.utc)
    now = CLOCK.now()
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(timezone.utc)
    assert CLOCK.monotonic() <= CLOCK.monotonic()


@pytest.mark.parametrize(
    ("seconds", "fine", "shown"),
    [
        (42, False, "42 s"),
        (95, False, "2 min"),
        (95, True, "1.6 min"),
        (599, True, "10.0 min"),
        (600, True, "10 min"),
        (5400, False, "1.5 h"),
    ],
)
def test_durations_read_as_a_person_says_them(seconds: float, fine: bool, shown: str) -> None:
    assert duration(seconds, fine=fine) == shown
