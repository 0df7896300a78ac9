"""Counting a range from a few sample pages, on data shaped like real accounts."""

from __future__ import annotations

import random
from bisect import bisect_left
from datetime import datetime, timedelta, timezone

import pytest

from tap_klaviyo.read import estimate as sampling
from tap_klaviyo.read.estimate import Estimate, estimate, stretch_count

T0 = datetime(2019, 1, 1, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, tzinfo=timezone.utc)
PAGE = 200


def pager(keys: list[datetime], calls: list[datetime | None]):
    """The first page of records at or after an instant, as Klaviyo's sorted read gives it."""

    def first_page(low: datetime | None) -> tuple[list[datetime], bool]:
        calls.append(low)
        at = 0 if low is None else bisect_left(keys, low)
        page = keys[at : at + PAGE]
        return page, at + PAGE < len(keys)

    return first_page


def growth(n: int, seed: int = 1) -> list[datetime]:
    """Sparse early years, most records in the last two: density rising steeply."""
    rng = random.Random(seed)
    span = (END - T0).total_seconds()
    return sorted(T0 + timedelta(seconds=span * rng.random() ** 0.25) for _ in range(n))


def test_growth_is_counted_within_a_tenth() -> None:
    keys = growth(200_000)
    calls: list[datetime | None] = []
    found = estimate(pager(keys, calls), None, END)
    assert found is not None
    assert found.total == pytest.approx(len(keys), rel=0.1)
    # What is left after a point in the range, too.
    middle = keys[len(keys) // 2]
    assert found.after(middle) == pytest.approx(len(keys) / 2, rel=0.15)
    assert len(calls) == sampling.SAMPLES + 1  # the first record, then each instant


def test_a_bulk_import_in_one_second_counts_at_least_a_page() -> None:
    # A sample landing on a second that holds thousands sees no time pass in its page.
    second = T0 + timedelta(days=400)
    assert stretch_count([second] * PAGE, True, second, second + timedelta(days=30)) == PAGE


def test_a_page_that_is_not_full_counts_the_rest_exactly_without_more_requests() -> None:
    keys = sorted(T0 + timedelta(days=d) for d in range(0, 2_800, 20))  # 140 records
    calls: list[datetime | None] = []
    found = estimate(pager(keys, calls), T0, END)
    assert found is not None and found.total == len(keys)
    assert len(calls) == 1
    assert found.after(T0 + timedelta(days=1_400)) == pytest.approx(70, abs=1)


def test_an_empty_range_has_no_estimate() -> None:
    assert estimate(pager([], []), None, END) is None
    assert estimate(pager(growth(10), []), END, END) is None


def test_after_counts_a_stretch_it_falls_in_by_its_share() -> None:
    edges = [T0, T0 + timedelta(days=10), T0 + timedelta(days=20)]
    found = Estimate(edges, [100.0, 50.0])
    assert found.after(T0 + timedelta(days=5)) == 100.0
    assert found.after(T0 - timedelta(days=1)) == 150.0
    assert found.after(END) == 0.0
