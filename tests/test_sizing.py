"""Slice sizing: how many pages a slice is planned for, and slices that tile a range."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from tap_klaviyo.read.sizing import SLICE_PAGES, pages_per_slice, plan_slices

BASE = datetime(2024, 1, 1, tzinfo=timezone.utc)


@settings(max_examples=200, deadline=None)
@given(
    start_offset=st.integers(0, 10**6),
    length=st.integers(1, 10**6),
    size=st.one_of(st.floats(0, 10**6), st.floats(0, 10**11)),
    count=st.integers(1, 40),
    micros=st.integers(0, 999_999),
)
def test_slices_tile_the_range_without_gaps_or_overlaps(
    start_offset: int, length: int, size: float, count: int, micros: int
) -> None:
    start = BASE + timedelta(seconds=start_offset)
    end = start + timedelta(seconds=length, microseconds=micros)
    slices = plan_slices(start, end, timedelta(seconds=size), count)
    assert 1 <= len(slices) <= count
    cursor = start
    for low, high in slices:
        assert low == cursor and low < high <= end
        assert high == end or high.microsecond == 0
        cursor = high
    assert cursor == end
    # Every slice but the last has the size asked for, in whole seconds.
    assert {high - low for low, high in slices[:-1]} <= {
        max(timedelta(seconds=1), timedelta(seconds=int(size)))
    }


def test_slices_are_twice_as_long_where_the_quota_binds() -> None:
    # Profiles: 750 a minute is below a request a second for each of 16 workers.
    assert pages_per_slice(16, 750) == 2 * SLICE_PAGES
    # Events (3,500 a minute), and endpoints without a steady limit, keep the default.
    assert pages_per_slice(16, 3500) == SLICE_PAGES
    assert pages_per_slice(16, None) == SLICE_PAGES
    assert pages_per_slice(1, 750) == SLICE_PAGES
