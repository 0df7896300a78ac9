"""Time slices: a run's range cut into pieces sized to the data, read in parallel and
handed out in key order."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_klaviyo.dates import parse_datetime, utc_iso
from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.read.pages import Produce
from tap_klaviyo.read.slices import SlicePlanner, SliceReader
from tap_klaviyo.transport.jsonapi import next_link

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


class Api:
    """Records sorted by `datetime`, served a page of ``page_size`` at a time for any
    [low, high) range, as Klaviyo does for a sorted, bounded query."""

    def __init__(self, stamps: list[datetime], page_size: int) -> None:
        ordered = sorted(stamps)
        self.records = [{"id": f"r{i}", "datetime": utc_iso(s)} for i, s in enumerate(ordered)]
        self.page_size = page_size
        self.slices: list[tuple[datetime, datetime]] = []

    def page(self, low: datetime | None, high: datetime, number: int) -> requests.Response:
        inside = [
            r
            for r in self.records
            if (low is None or parse_datetime(r["datetime"]) >= low)
            and parse_datetime(r["datetime"]) < high
        ]
        size = self.page_size
        more = len(inside) > (number + 1) * size
        response = requests.Response()
        response.status_code = 200
        response.url = "https://a.klaviyo.com/api/events"
        response._content = msgspec.json.encode(
            {
                "data": inside[number * size : (number + 1) * size],
                "links": {"next": f"{response.url}?page={number + 1}" if more else None},
            }
        )
        return response

    def first_response(self, low: datetime | None, high: datetime) -> requests.Response:
        return self.page(low, high, 0)

    def slice_feed(self, low: datetime, high: datetime) -> Produce:
        self.slices.append((low, high))

        def produce(put: Callable[[Any], bool]) -> None:
            number = 0
            while True:
                response = self.page(low, high, number)
                if not put((response, low, high)) or not next_link(response):
                    return
                number += 1

        return produce

    @staticmethod
    def decode(
        response: requests.Response, start: datetime | None, end: datetime | None
    ) -> list[dict[str, Any]]:
        return msgspec.json.decode(response.content)["data"]

    def reader(self, workers: int = 3, **kwargs: Any) -> SliceReader:
        return SliceReader(
            stream="events",
            key="datetime",
            workers=workers,
            target_records=self.page_size * 3,
            first_response=self.first_response,
            slice_feed=self.slice_feed,
            decode=self.decode,
            **kwargs,
        )


@settings(max_examples=40, deadline=None)
@given(
    seconds=st.lists(st.integers(0, 5 * 86_400), min_size=1, max_size=120),
    micros=st.booleans(),
    page_size=st.integers(1, 7),
    workers=st.integers(1, 4),
)
def test_every_record_comes_out_once_in_key_order(
    seconds: list[int], micros: bool, page_size: int, workers: int
) -> None:
    stamps = [BASE + timedelta(seconds=s, microseconds=s % 1000 if micros else 0) for s in seconds]
    api = Api(stamps, page_size)
    end = BASE + timedelta(days=6)
    pages = list(api.reader(workers).pages(BASE, end))
    assert [r["id"] for page in pages for r in page] == [r["id"] for r in api.records]


def test_one_page_of_records_is_read_without_slices() -> None:
    api = Api([BASE + timedelta(hours=h) for h in range(3)], page_size=5)
    pages = list(api.reader().pages(None, BASE + timedelta(days=1)))
    assert pages == [api.records]
    assert api.slices == []


def test_slices_start_where_the_first_page_stops_and_tile_the_rest() -> None:
    stamps = [BASE + timedelta(minutes=10 * m, microseconds=500) for m in range(200)]
    api = Api(stamps, page_size=10)
    end = BASE + timedelta(days=3)
    list(api.reader().pages(BASE, end))
    # The first page's last second is read again by the slices, which cover the rest
    # of the range without gaps or overlaps.
    last_of_first_page = parse_datetime(api.records[9]["datetime"]).replace(microsecond=0)
    assert api.slices[0][0] == last_of_first_page
    assert api.slices[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(api.slices))


def test_keys_that_are_not_date_times_stop_the_stream() -> None:
    api = Api([BASE + timedelta(hours=h) for h in range(4)], page_size=2)
    first = api.page(None, BASE + timedelta(days=1), 0)
    data = msgspec.json.decode(first.content)
    data["data"][0]["datetime"] = "soon"
    first._content = msgspec.json.encode(data)
    reader = api.reader()
    reader.first_response = lambda low, high: first
    with pytest.raises(KlaviyoError) as caught:
        list(reader.pages(None, BASE + timedelta(days=1)))
    assert str(caught.value) == (
        "Stream 'events': Klaviyo sent `datetime` values that are not date-times "
        "('soon', '2024-01-01T01:00:00+00:00')"
    )
    assert api.slices == []


def test_rendered_pages_come_back_in_order_from_the_render_function() -> None:
    api = Api([BASE + timedelta(minutes=7 * m) for m in range(300)], page_size=10)
    end = BASE + timedelta(days=2)
    asked: list[tuple[datetime, datetime]] = []

    def render(response: requests.Response, low: datetime, high: datetime) -> Future[Any]:
        asked.append((low, high))
        done: Future[Any] = Future()
        done.set_result([r["id"] for r in api.decode(response, low, high)])
        return done

    pages = list(api.reader(render=render, render_ahead=4).pages(BASE, end))
    # The first page is decoded in place; every slice's page went to the renderer.
    ids = [r["id"] for r in pages[0]] + [i for page in pages[1:] for i in page]
    assert ids == [r["id"] for r in api.records]
    assert set(asked) == set(api.slices)


def test_a_dead_render_process_stops_the_stream_in_one_line() -> None:
    api = Api([BASE + timedelta(minutes=7 * m) for m in range(100)], page_size=10)

    def render(response: requests.Response, low: datetime, high: datetime) -> Future[Any]:
        broken: Future[Any] = Future()
        broken.set_exception(BrokenProcessPool("A child process terminated abruptly"))
        return broken

    with pytest.raises(KlaviyoError) as caught:
        list(api.reader(render=render, render_ahead=2).pages(BASE, BASE + timedelta(days=1)))
    assert str(caught.value) == (
        "Stream 'events': a worker process rendering its records stopped unexpectedly "
        "(out of memory?); set render_processes to 0 to render them in the tap's own process."
    )
