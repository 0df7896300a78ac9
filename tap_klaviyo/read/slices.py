"""Time slices: a run's range of the replication key cut into pieces read in parallel,
each piece cut again as soon as its own pages show it holds more than a few pages.

No density is trusted up front. The whole range [start, end) is the first piece. When a
piece's first page shows the piece holds more than a task reads, the piece keeps about a
slice's pages (SLICE_PAGES, twice as many where the quota binds: ``pages_per_slice``) and
the rest of its range is cut at once into slices sized from that page's density, read in
parallel while the task reads on. They are planned for only HORIZON times as many pages as
were seen at that density (a quiet stretch before a jump in density counts for nothing);
the rest is one piece, read (and split) in turn. A task reads at most one page more than a
slice's and cuts what is left of its piece the same way. A single second holding more
than a page (a bulk import) is read on its own, a task's pages at a time through the
query's cursor, while everything after it goes on in parallel; as soon as a page ends in
a second holding half its records, that cursor reads on into it. An empty stretch costs a
request or two: the first page of the piece after it says where records resume.

Pieces never overlap and are handed to the reader in key order, so records come out
in key order and the bookmark only ever covers pages already written; a page goes to
the reader as soon as it is known to be whole. Workers take pieces in that order too,
so the piece the reader waits for runs first. The pieces submitted but not yet read
are capped (READ_AHEAD per worker), and the pages they hold past a memory budget wait
on disk (read/spill.py): while the reader waits for a bulk second, the range after it
is read meanwhile without memory growing with it. Pages held in memory go to be rendered
as they arrive (read/renders.py), on worker processes that would otherwise be idle, so
the pages after a bulk second are ready to write when its last page comes.

Klaviyo can return a page's records slightly out of order. What this relies on: no
page holds a key below the smallest key of a page before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import requests

from tap_klaviyo.dates import parse_datetime, whole_second
from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.read.feeds import Feed, Schedule, Workers, in_order
from tap_klaviyo.read.keys import read_keys
from tap_klaviyo.read.renders import PageRenders, RenderingPage
from tap_klaviyo.read.sizing import (
    HORIZON,
    SECOND,
    SLICE_PAGES,
    plan_slices,
    slice_size,
    steady_pages,
)
from tap_klaviyo.read.spill import MEMORY_BUDGET, Holding, PageFile, SpilledPage
from tap_klaviyo.stopping import NEVER, Stop
from tap_klaviyo.transport.jsonapi import next_link

# Pieces open (read or being read, not yet written) per worker.
READ_AHEAD = 8
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)

Page = list[dict[str, Any]]
# A fetched page: the response and its records' keys.
Fetched = tuple[requests.Response, list[datetime]]


@dataclass(eq=False)
class Piece:
    """Part of the run's range: the query [low, high), read from its first page or,
    for a continuation, from ``link``; only records with keys before ``cut`` are
    its own (later ones belong to the pieces after it)."""

    low: datetime | None  # None: the query has no lower bound (the first piece)
    high: datetime
    cut: datetime
    seq: int = 0  # 0 for a query's first piece, n for its n-th continuation
    # How many pages of records just before ``low`` were seen (or planned) at about the
    # density this piece was sized for.
    known: int = 0
    link: str | None = None
    # Read on through the cursor, never split: one second too big for a task.
    continued: bool = False
    # The query's next-page links met so far, shared by its continuations.
    seen: set[str] = field(default_factory=set)
    feed: Feed | None = None
    # Its pages held beyond the read's memory budget (read/spill.py).
    spill: PageFile = field(default_factory=PageFile)

    @property
    def position(self) -> tuple[datetime, int]:
        """Where the piece's records go in the output."""
        return (self.low or _EARLIEST, self.seq)


class _Closed(Exception):
    """The reader is gone: a task stops before its next request."""


class SliceReader:
    """The range [start, end) read as pieces on worker threads, pages in key order."""

    def __init__(
        self,
        *,
        stream: str,
        key: str,
        workers: int,
        # Records a full page holds.
        page_size: int,
        # The first page of the query [low, high).
        first_response: Callable[[datetime | None, datetime], requests.Response],
        # The page a response's ``links.next`` leads to.
        follow: Callable[[str], requests.Response],
        decode: Callable[[requests.Response, datetime | None, datetime | None], Page],
        # Pages rendered elsewhere; None: decoded here.
        renders: PageRenders | None = None,
        stop: Stop = NEVER,
        # Told of each piece once its task knows where the piece ends (tests, logs).
        on_piece: Callable[[Piece], None] | None = None,
        # Pages a slice is sized for.
        slice_pages: int = SLICE_PAGES,
        # Bytes of pages read ahead kept in memory; more wait on disk (read/spill.py).
        memory_budget: int = MEMORY_BUDGET,
    ) -> None:
        self.stream = stream
        self.key = key
        self.workers = max(1, workers)
        self.target_records = page_size * slice_pages
        self.first_response = first_response
        self.follow = follow
        self.decode = decode
        self.renders = renders
        self.stop = stop
        self.on_piece = on_piece
        self.slice_pages = slice_pages
        self.task_pages = slice_pages + 1
        self.holding = Holding(memory_budget)

    def pages(self, start: datetime | None, end: datetime) -> Iterator[Any]:
        run = _SliceRun(self)
        run.add([Piece(low=start, high=end, cut=end)])
        try:
            depth = self.renders.depth if self.renders is not None else 0
            yield from in_order(run.items(), self._page, depth, self.stop)
        except BrokenProcessPool:
            raise KlaviyoError(
                f"Stream '{self.stream}': a worker process rendering its records stopped "
                "unexpectedly (out of memory?); set render_processes to 0 to render them in "
                "the tap's own process."
            ) from None
        finally:
            run.close()
            if self.renders is not None:
                self.renders.drop()

    # ---- on the reader's thread --------------------------------------------------

    def _page(
        self, item: tuple[requests.Response, datetime | None, datetime, datetime | None]
    ) -> Any:
        response, low, high, cut = item
        if isinstance(response, RenderingPage):
            self.renders.needed(response.future)  # type: ignore[union-attr]
            return response.future
        if self.renders is not None:
            # Rendered in a worker process, a few pages ahead of the one being written;
            # records from the cut on are dropped there.
            return self.renders.now(response, low, high, cut)
        if cut is not None:
            # Records from the cut on belong to later pieces: this page is decoded here.
            key = self.key
            records = self.decode(response, low, cut)
            return [r for r in records if self._moment(r.get(key), [r.get(key)], 0) < cut]
        return self.decode(response, low, high)

    # ---- on the workers ----------------------------------------------------------

    def read(self, response: requests.Response) -> tuple[list[datetime], str | None]:
        """The page's keys as date-times (any other value stops the stream), and where
        the next page is: both from one pass over the body."""
        content = response.content
        read = read_keys(self.key, True, content)
        if read is not None:
            return read
        # A key that is not a date-time with an offset, or a body not shaped as expected:
        # read again, the slow way, to name what is wrong (or to accept what
        # parse_datetime does: a date-time without an offset is UTC).
        read = read_keys(self.key, False, content)
        if read is None:
            # Not the page of resources expected: decoding it names what is wrong.
            values = [r.get(self.key) for r in self.decode(response, None, None)]
            read = values, next_link(response)
        values, link = read
        return [self._moment(value, values, n) for n, value in enumerate(values)], link

    def _moment(self, value: Any, values: list[Any], index: int) -> datetime:
        try:
            return parse_datetime(value)
        except (AttributeError, TypeError, ValueError):
            shown = [values[0], values[-1]]
            if 0 < index < len(values) - 1:
                shown.insert(1, value)
            raise KlaviyoError(
                f"Stream '{self.stream}': Klaviyo sent `{self.key}` values that are not "
                f"date-times ({', '.join(repr(v) for v in shown)})"
            ) from None


class _SliceRun:
    """One ``SliceReader.pages`` call: its workers, its pieces."""

    def __init__(self, reader: SliceReader) -> None:
        self.reader = reader
        self.stop = reader.stop
        self.workers = Workers(reader.workers, f"{reader.stream}-window", reader.stop)
        # Pieces read ahead of the writer: their pages wait in memory up to a budget
        # and on disk beyond it, so the bound is wide enough to keep reading the pieces
        # after one the writer waits on for seconds (a bulk import's second).
        self.holding = reader.holding
        self.schedule: Schedule[Piece] = Schedule(
            self.workers, READ_AHEAD * reader.workers, self._run
        )

    def add(self, pieces: list[Piece]) -> None:
        for piece in pieces:
            piece.feed = Feed(self.reader.task_pages + 2, self.stop)
        self.schedule.add((piece.position, piece) for piece in pieces)

    def close(self) -> None:
        self.workers.close()
        for piece in self.schedule.close():
            piece.feed.cancel()  # type: ignore[union-attr]
            piece.spill.close()

    def items(self) -> Iterator[tuple[requests.Response, datetime | None, datetime, Any]]:
        """Each page to write, in key order: (response, low, high, cut or None)."""
        while (piece := self.schedule.next()) is not None:
            try:
                for item in piece.feed:  # type: ignore[union-attr]
                    self.holding.release(item[0])
                    yield item
            finally:
                piece.spill.close()
            self.schedule.done()

    def _check(self) -> None:
        self.stop.check()
        if self.workers.closed:
            raise _Closed

    def _run(self, piece: Piece) -> None:
        feed = piece.feed
        assert feed is not None
        try:
            fetched, held, link = self._fetch(piece)
            followers = self._followers(piece, fetched, link)
            if self.reader.on_piece is not None:
                self.reader.on_piece(piece)
            # The pieces after this one are known before its last page is handed over,
            # so the reader, done with this piece, finds them.
            self.add(followers)
            for response, keys in held:
                self._put(piece, response, keys)
            feed.finish()
        except _Closed:
            feed.cancel()
        except BaseException as exc:  # handed to the reader, raised there in its turn
            feed.put(exc)

    def _put(self, piece: Piece, response: requests.Response, keys: list[datetime]) -> None:
        cut = piece.cut
        if keys and min(keys) >= cut:
            return  # every record of the page belongs to a later piece
        bounds = (piece.low, piece.high, cut if bool(keys) and max(keys) >= cut else None)
        page = self.holding.keep(response, piece.spill)
        renders = self.reader.renders
        if renders is not None and not isinstance(page, SpilledPage):
            # Rendered as soon as a process is idle, the body let go; a page on disk
            # waits for the writer, so the read-ahead past the budget stays on disk.
            page = self.holding.render(renders, page, *bounds)
        if not piece.feed.put((page, *bounds)):  # type: ignore[union-attr]
            self.holding.release(page)  # the reader walked away: never taken

    def _fetch(self, piece: Piece) -> tuple[list[Fetched], list[Fetched], str | None]:
        """Up to the reader's ``task_pages`` pages of the piece (one more once its first
        page split it: the page that reaches its new cut and the one that shows it is
        past it): all of them, those not handed over yet (their cut is known once the
        task is over), and the next page's link if the piece has more."""
        reader = self.reader
        fetched: list[Fetched] = []
        held: list[Fetched] = []
        link = piece.link
        budget = reader.task_pages
        while len(fetched) < budget:
            self._check()
            if link is None:
                response = reader.first_response(piece.low, piece.high)
            else:
                response = reader.follow(link)
            keys, link = reader.read(response)
            fetched.append((response, keys))
            held.append((response, keys))
            if piece.continued:
                # A continuation's cut is final: its pages go to the reader at once.
                self._put(piece, *held.pop())
            elif keys:
                # The piece's records end no earlier than this page's first second (see
                # the module's docstring): the pages before it that end sooner are whole.
                starts = whole_second(min(keys))
                while len(held) > 1 and (not held[0][1] or max(held[0][1]) < starts):
                    self._put(piece, *held.pop(0))
                if link is not None and self._heavy_tail(piece, keys):
                    # The piece's cut is final now: what it holds goes to the reader.
                    for page in held:
                        self._put(piece, *page)
                    held.clear()
            if link is None or (keys and min(keys) >= piece.cut):
                # The last page, or one past the cut: by the rule in the module's
                # docstring no later page holds a key before it.
                return fetched, held, None
            if link in piece.seen:
                # A cursor that leads back to a page already read would loop for ever.
                raise KlaviyoError(
                    f"Stream '{reader.stream}': Klaviyo sent the same next page twice ({link})."
                )
            piece.seen.add(link)
            if len(fetched) == 1 and not piece.continued:
                ahead = self._ahead(piece, keys)
                if ahead:
                    self.add(ahead)
                    budget = reader.task_pages + 1
        return fetched, held, link

    def _heavy_tail(self, piece: Piece, keys: list[datetime]) -> bool:
        """When a page ends in a second holding half its records or more (a bulk import,
        a campaign's send), the piece ends with that second, read on through this query's
        cursor (its next page is in that second already), and the rest of its range is a
        new slice, read meanwhile: found a page sooner, and without starting the second's
        query over, than when a later page shows the second fills it."""
        last = whole_second(max(keys))
        heavy = sum(1 for key in keys if key >= last)
        if heavy < 2 or 2 * heavy < len(keys) or last + SECOND >= piece.cut:
            return False
        self.add(self._rest_after(piece, last + SECOND))
        piece.continued = True
        return True

    @staticmethod
    def _rest_after(piece: Piece, end: datetime) -> list[Piece]:
        """The piece ends at ``end`` (a second too full to split); the rest of its range,
        if any, is a new slice."""
        if end >= piece.cut:
            return []
        rest = Piece(low=end, high=piece.cut, cut=piece.cut)
        piece.cut = end
        return [rest]

    def _ahead(self, piece: Piece, keys: list[datetime]) -> list[Piece]:
        """After a piece's first page: when the page shows the piece holds more than a
        task reads, the piece keeps about what a slice's pages like it reach and the rest
        of its range goes to new slices now, read in parallel while this task reads on.
        Waiting for the task's last page would leave the workers idle meanwhile."""
        if not keys:
            return []
        first, last = whole_second(min(keys)), whole_second(max(keys))
        if last == first:
            # A whole page in one second, a bulk import's maybe: the piece becomes that
            # second, read on through the cursor, and the rest of its range a new slice,
            # read meanwhile.
            return self._rest_after(piece, first + SECOND)
        reach = last - first
        # Mid-page: the page that reaches the cut is read half for this piece, half for
        # the next, instead of wholly for nothing when it starts at the cut.
        keep = whole_second(last + SECOND + (self.reader.slice_pages - 0.5) * reach)
        if keep + 2 * reach >= piece.cut:
            return []  # close to the cut already
        return self._plan(piece, [keys], first, last + SECOND, keep)

    def _plan(
        self,
        piece: Piece,
        keyed: list[list[datetime]],
        floor: datetime,
        edge: datetime,
        boundary: datetime,
    ) -> list[Piece]:
        """The piece's range from ``boundary`` to its cut (which becomes the boundary) as
        slices sized from the density its pages showed in [floor, edge), planned for
        HORIZON times the pages seen at that density: an empty stretch after them costs
        a request or two, and a long dense one is planned ever further ahead."""
        steady = steady_pages(keyed)
        start = max(floor, whole_second(min(keyed[-steady])))
        if start >= edge:  # the steady pages all lie in the edge's second
            steady, start = len(keyed), floor
        size = max(SECOND, slice_size(keyed[-steady:], start, edge, self.reader.target_records))
        # What the pieces before this one saw counts when this piece's pages go on at
        # their density, from where the piece starts.
        lead = floor - (floor if piece.low is None else whole_second(piece.low))
        inherits = steady == len(keyed) and lead <= edge - floor
        known = steady + (piece.known if inherits else 0)
        count = max(1, HORIZON * known // self.reader.slice_pages)
        horizon = boundary + min(count * size, piece.cut - boundary)
        slices = plan_slices(boundary, horizon, size, min(count, 2 * self.reader.workers))
        if horizon < piece.cut:
            slices.append((horizon, piece.cut))
        piece.cut = boundary
        return [
            Piece(low=low, high=high, cut=high, known=known + n * self.reader.slice_pages)
            for n, (low, high) in enumerate(slices)
        ]

    def _followers(self, piece: Piece, fetched: list[Fetched], link: str | None) -> list[Piece]:
        """The pieces that read what this task left (lowering ``piece.cut``)."""
        if link is None:
            return []
        keyed = [keys for _, keys in fetched if keys]
        if piece.continued or not keyed:
            return [self._continuation(piece, link, piece.cut)]
        floor = whole_second(min(keyed[0]))
        if piece.low is not None:
            floor = max(floor, whole_second(piece.low))
        # Not the last record's second: Klaviyo can return a page's records slightly out
        # of order, so the unread pages may hold keys down to the smallest on the last
        # page read, and the records from that whole second on are left to new slices.
        boundary = whole_second(min(keyed[-1]))
        if boundary <= floor:
            # One second holds more pages than a task reads (a bulk import): this piece
            # becomes that second, read on through the cursor, while the rest of its
            # range is a new slice read in parallel.
            second_end = min(floor + SECOND, piece.cut)
            rest = self._rest_after(piece, second_end)
            return [self._continuation(piece, link, second_end), *rest]
        return self._plan(piece, keyed, floor, boundary, boundary)

    @staticmethod
    def _continuation(piece: Piece, link: str, cut: datetime) -> Piece:
        return Piece(
            low=piece.low,
            high=piece.high,
            cut=cut,
            seq=piece.seq + 1,
            link=link,
            continued=True,
            seen=piece.seen,
        )
