"""Time slices: a run's range cut into pieces sized to the data, read in parallel and
handed out in key order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from tap_klaviyo.read.slices import SlicePlanner

BASE = datetime(2024, 1, 1, tzinfo=timezone.utc)


@settings(max_examples=200, deadline=None)
@given(
    start_offset=st.integers(0, 10**6),
    length=st.integers(1, 10**6),
    target=st.integers(1, 10_000),
    density=st.one_of(st.none(), st.floats(1e-6, 1e4)),
    observations=st.lists(st.integers(0, 50_000), max_size=30),
)
def test_windows_tile_the_range_without_gaps_or_overlaps(
    start_offset: int, length: int, target: int, density: float | None, observations: list[int]
) -> None:
    start = BASE + timedelta(seconds=start_offset, microseconds=start_offset % 7)
    end = start + timedelta(seconds=length)
    planner = SlicePlanner(start, end, target_records=target, density=density)
    cursor = start.replace(microsecond=0)
    counts = iter(observations)
    while planner.has_more():
        low, high = planner.next_slice()
        assert low == cursor and low < high <= end
        assert high == end or high.microsecond == 0
        planner.observe(low, high, next(counts, 0))
        cursor = high
    assert cursor == end
