"""Time slices: a run's range cut into pieces read in parallel, sized to the data.

A slice should hold a handful of pages: big enough that its requests are not
wasted on empty ranges, small enough that a dense day is split across workers.
The planner learns records-per-second from every finished slice and sizes the
next one for ``target_records``; the reader fetches slices on worker threads and
hands their pages out in key order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta
from typing import Any

import requests

from tap_klaviyo.dates import parse_datetime, whole_second
from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.read.feeds import FeedPool, in_order
from tap_klaviyo.read.pages import Produce
from tap_klaviyo.transport.jsonapi import next_link

MIN_SLICE = timedelta(minutes=1)
MAX_SLICE = timedelta(days=180)
INITIAL_SLICE = timedelta(days=1)
# Pages per slice: few enough that a dense stretch is spread over many workers,
# enough that the last, part-full page of a slice is rare.
SLICE_PAGES = 3

Page = list[dict[str, Any]]


class SlicePlanner:
    def __init__(
        self,
        start: datetime,
        end: datetime,
        target_records: int,
        density: float | None = None,
    ) -> None:
        self.cursor = whole_second(start)
        self.end = end
        self.target_records = target_records
        self._density = density  # records per second, learned as slices finish
        self._lock = threading.Lock()

    def has_more(self) -> bool:
        return self.cursor < self.end

    def next_slice(self) -> tuple[datetime, datetime]:
        with self._lock:
            density = self._density
        size = timedelta(seconds=self.target_records / density) if density else INITIAL_SLICE
        size = min(max(size, MIN_SLICE), MAX_SLICE)
        start = self.cursor
        # Whole-second edges: endpoints that only offer greater-than rely on them.
        stop = min(self.end, whole_second(start + size))
        self.cursor = stop
        return start, stop

    def observe(self, start: datetime, stop: datetime, records: int) -> None:
        seconds = max((stop - start).total_seconds(), 1.0)
        observed = records / seconds
        with self._lock:
            if records == 0:
                # An empty slice says little; let the next one grow.
                self._density = (self._density or 0) / 4 or None
            elif self._density is None:
                self._density = observed
            else:
                # Lean on the newest observation: density drifts over an account's life.
                self._density = 0.3 * self._density + 0.7 * observed


class SliceReader:
    """The range [start, end) as slices fetched on worker threads, pages in key order.

    A first request over the whole range finds where the data begins and how dense
    it is; the rest is cut into slices of a few pages each. Records come out in
    replication-key order, so the bookmark only ever covers slices whose records
    have all been emitted.
    """

    def __init__(
        self,
        *,
        stream: str,
        key: str,
        workers: int,
        target_records: int,
        first_response: Callable[[datetime | None, datetime], requests.Response],
        slice_feed: Callable[[datetime, datetime], Produce],
        decode: Callable[[requests.Response, datetime | None, datetime | None], Page],
        render: Callable[[requests.Response, datetime, datetime], Future[Any]] | None = None,
        render_ahead: int = 0,
    ) -> None:
        self.stream = stream
        self.key = key
        self.workers = workers
        self.target_records = target_records
        self.first_response = first_response
        self.slice_feed = slice_feed
        self.decode = decode
        self.render = render
        self.render_ahead = render_ahead

    def pages(self, start: datetime | None, end: datetime) -> Iterator[Any]:
        key = self.key
        response = self.first_response(start, end)
        first = self.decode(response, start, end)
        if not first or not next_link(response):
            yield first
            return
        try:
            earliest = parse_datetime(first[0][key])
            # Records of the last second may continue on the next page: the slices
            # read them again.
            boundary = parse_datetime(first[-1][key]).replace(microsecond=0)
        except (TypeError, ValueError):
            raise KlaviyoError(
                f"Stream '{self.stream}': Klaviyo sent `{key}` values that are not date-times "
                f"({first[0].get(key)!r}, {first[-1].get(key)!r})"
            ) from None
        yield [r for r in first if parse_datetime(r[key]) < boundary]
        spread = max((boundary - earliest).total_seconds(), 1.0)
        planner = SlicePlanner(
            boundary, end, target_records=self.target_records, density=len(first) / spread
        )
        # A slice fits in its feed, so a worker finishes it without waiting for the
        # reader; twice as many slices as workers keeps every worker busy.
        pool = FeedPool(self.workers, max_pages=SLICE_PAGES + 1, name=f"{self.stream}-window")
        in_flight: list[tuple[int, datetime, datetime]] = []
        slices_done: list[tuple[datetime, datetime]] = []
        counter = 0

        def submit_more() -> None:
            nonlocal counter
            while planner.has_more() and len(in_flight) < 2 * self.workers:
                low, high = planner.next_slice()
                pool.submit(counter, self.slice_feed(low, high))
                in_flight.append((counter, low, high))
                counter += 1

        def fetched_items() -> Iterator[Any]:
            """Each slice's responses, then ``None`` once all of the slice are taken."""
            while in_flight:
                number, low, high = in_flight.pop(0)
                fetched = pool.take(number)
                if fetched is None:
                    raise RuntimeError("window feed lost")
                yield from fetched
                slices_done.append((low, high))
                yield None
                submit_more()

        try:
            submit_more()
            count = 0
            if self.render is None:
                pages = in_order(fetched_items(), lambda item: self.decode(*item), 0)
            else:
                # Pages render in worker processes, a few ahead of the one being written.
                render = self.render
                pages = in_order(fetched_items(), lambda item: render(*item), self.render_ahead)
            for page in pages:
                if page is None:
                    planner.observe(*slices_done.pop(0), count)
                    count = 0
                    continue
                count += len(page)
                yield page
        except BrokenProcessPool:
            raise KlaviyoError(
                f"Stream '{self.stream}': a worker process rendering its records stopped "
                "unexpectedly (out of memory?); set render_processes to 0 to render them in "
                "the tap's own process."
            ) from None
        finally:
            pool.close()
