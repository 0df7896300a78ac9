"""Which requests one stream sends for one context, and in what order: serially
following ``links.next``, as parallel time slices, or from a feed its parent's page
started early; recovering from Klaviyo's refusals as the recovery table says."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import requests

from tap_klaviyo.read.pages import Produce, feed_of, paginate
from tap_klaviyo.read.prefetch import Prefetcher
from tap_klaviyo.read.query import Query
from tap_klaviyo.read.recovery import Recovery, read_recovering
from tap_klaviyo.read.renders import PageRenders
from tap_klaviyo.read.sizing import pages_per_slice
from tap_klaviyo.read.slices import SliceReader
from tap_klaviyo.stopping import NEVER, Stop

Context = Mapping[str, Any]
Page = list[dict[str, Any]]
Bounds = tuple[datetime | None, datetime]


class Reader:
    """One stream's read path. Everything stream-specific comes in as a callable."""

    def __init__(
        self,
        *,
        stream: str,
        logger: logging.Logger,
        query: Query,
        workers: int,
        ignore_forbidden: bool,
        is_child: bool,
        add_on: str | None = None,
        missing_is_normal: bool = False,
        parallel_slices: bool,
        send: Callable[[requests.PreparedRequest], requests.Response],
        # (context, None, params) -> the first request; (context, token, None) -> the next.
        request_for: Callable[[Context | None, Any, dict | None], requests.PreparedRequest],
        next_token: Callable[[requests.Response], Any],
        decode: Callable[[requests.Response, datetime | None, datetime | None], Page],
        # The run's stop signal: time slices stop reading once it is set.
        stop: Stop = NEVER,
    ) -> None:
        self.stream = stream
        self.logger = logger
        self.query = query
        self.workers = workers
        self.ignore_forbidden = ignore_forbidden
        self.is_child = is_child
        self.add_on = add_on
        self.missing_is_normal = missing_is_normal
        self.send = send
        self.request_for = request_for
        self.next_token = next_token
        self.decode = decode
        self.stop = stop
        self.slices = parallel_slices and query.can_slice and workers > 1
        # A child read once per parent fetches ahead while the parent's page is written.
        self.prefetcher = Prefetcher(workers, stream, stop) if is_child and workers > 1 else None
        # The key may not read this stream, and the user said to skip it.
        self.forbidden = False
        # The first slice's first page, sent while the run looked things up (``early``):
        # (start, end, response or the error it raised).
        self._early: tuple[datetime | None, datetime, Any] | None = None

    @contextmanager
    def early(self, bounds: Callable[[Context | None, bool], Bounds]) -> Iterator[None]:
        """Send the read's first request while the body runs (a run's lookups, which
        take a round trip of their own), and keep its response for the read. Only a
        read in time slices of the whole stream; the request ends before this returns,
        so the read that follows finds its response."""
        if not self.slices:
            yield
            return
        start, end = bounds(None, False)

        def send() -> None:
            try:
                self._early = (start, end, self.send(self.first_request(None, start, end)))
            except BaseException as exc:  # raised by the read that takes it, as its own
                self._early = (start, end, exc)

        thread = threading.Thread(target=send, name=f"{self.stream}-first-page", daemon=True)
        thread.start()
        try:
            yield
        finally:
            thread.join()

    def _first_response(
        self, context: Context | None, low: datetime | None, high: datetime
    ) -> requests.Response:
        early, self._early = self._early, None
        if early is not None and context is None and early[:2] == (low, high):
            if isinstance(early[2], BaseException):
                raise early[2]
            return early[2]
        return self.send(self.first_request(context, low, high))

    def first_request(
        self, context: Context | None, start: datetime | None, end: datetime | None
    ) -> requests.PreparedRequest:
        return self.request_for(context, None, self.query.params(context, start, end))

    def responses(
        self, context: Context | None, start: datetime | None, end: datetime | None
    ) -> Iterator[requests.Response]:
        """Every response of one query; safe on any thread."""
        return paginate(
            self.first_request(context, start, end),
            self.send,
            self.next_token,
            lambda token: self.request_for(context, token, None),
            stream=self.stream,
        )

    def feed(
        self, context: Context | None, start: datetime | None, end: datetime | None
    ) -> Produce:
        return feed_of(lambda: self.responses(context, start, end), start, end)

    def prefetch(self, context: Context, bounds: Callable[[Context | None, bool], Bounds]) -> None:
        """Start fetching this context's pages now; ``pages`` takes them later."""
        if self.prefetcher is None or self.forbidden or context in self.prefetcher:
            return
        self.prefetcher.start(context, self.feed(context, *bounds(context, False)))

    def pages(
        self,
        context: Context | None,
        bounds: Callable[[Context | None, bool], Bounds],
        renders: PageRenders | None = None,
    ) -> Iterator[Page]:
        """Pages of records for one context. ``bounds(context, resume)`` gives the run
        bounds (after a stale cursor, resuming from the records written so far);
        ``renders`` renders sliced pages elsewhere."""
        if self.forbidden:
            return
        outcome = yield from read_recovering(
            lambda restarted: self._attempt(context, lambda: bounds(context, restarted), renders),
            stream=self.stream,
            is_child=self.is_child,
            ignore_forbidden=self.ignore_forbidden,
            add_on=self.add_on,
            missing_is_normal=self.missing_is_normal,
            logger=self.logger,
            context=context,
        )
        if outcome is Recovery.SKIP_STREAM:
            self.forbidden = True

    def _attempt(
        self,
        context: Context | None,
        bounds: Callable[[], Bounds],
        renders: PageRenders | None,
    ) -> Iterator[Page]:
        fetched = self.prefetcher.take(context) if self.prefetcher else None
        if fetched is not None:
            for item in fetched:
                yield self.decode(*item)
            return
        start, end = bounds()
        if not self.slices:
            for response in self.responses(context, start, end):
                yield self.decode(response, start, end)
            return
        operation = self.query.operation
        pages = pages_per_slice(self.workers, operation.steady_per_minute)
        reader = SliceReader(
            stream=self.stream,
            key=self.query.column or "",
            workers=self.workers,
            page_size=operation.page_size_max or 100,
            slice_pages=pages,
            first_response=lambda low, high: self._first_response(context, low, high),
            # The paginator's token for a link is its parsed URL (BaseHATEOASPaginator).
            follow=lambda link: self.send(self.request_for(context, urlparse(link), None)),
            decode=self.decode,
            renders=renders,
            stop=self.stop,
        )
        yield from reader.pages(start, end)

    def close(self) -> None:
        if self.prefetcher is not None:
            self.prefetcher.close()
            self.prefetcher = None
