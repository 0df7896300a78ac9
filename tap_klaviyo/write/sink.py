"""Pages to Singer lines and state. Records are rendered into RECORD lines a page at
a time, written in order, and the bookmark moves only past records already written."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from tap_klaviyo.transport.jsonapi import json_decoder
from tap_klaviyo.write.lines import LeanWriter, record_lines
from tap_klaviyo.write.render import RenderedPage

Page = list[dict[str, Any]]


def bookmark_rows(rows: Page, key: str | None) -> Page:
    """The rows whose replication keys move the bookmark exactly as the SDK would
    record by record: the first and last of a page in order (the first still meets
    the SDK's sort check), else every row."""
    values = [row.get(key) for row in rows]  # type: ignore[arg-type]
    try:
        ordered = all(a <= b for a, b in itertools.pairwise(values))
    except TypeError:  # a null or a value of another type: the SDK decides
        ordered = False
    if ordered and len(rows) > 1:
        return [rows[0], rows[-1]]
    return rows


def render_rows(
    stream: str, rows: Page, *, version: int | None, key: str | None, time_extracted: str
) -> RenderedPage:
    """Finished rows as RECORD lines, and the replication keys that move the bookmark
    (``key`` None: the stream keeps no bookmark)."""
    if not rows:
        return RenderedPage(b"", 0)
    marks = [{key: row.get(key)} for row in bookmark_rows(rows, key)] if key else []
    return RenderedPage(record_lines(stream, rows, version, time_extracted), len(rows), marks)


class PageSink:
    """Writes one stream's rendered pages in order: lines first, then the bookmark
    moves past them, and a STATE goes out every ``state_every`` records."""

    def __init__(
        self,
        writer: LeanWriter,
        *,
        state_every: int,
        advance: Callable[[dict[str, Any], Any], None],
        write_state: Callable[[], None],
        unflushed: Callable[[], None],
    ) -> None:
        self.writer = writer
        self.state_every = state_every
        self.advance = advance
        self.write_state = write_state
        self.unflushed = unflushed
        self.written = 0

    def write(self, page: RenderedPage, partition: Any) -> int:
        """Write one page; returns how many records it held."""
        if not page.count:
            return 0
        self.writer.write_lines(page.lines)
        self.unflushed()
        # The state only ever covers records already written.
        for row in page.marks:
            self.advance(row, partition)
        before, self.written = self.written, self.written + page.count
        if self.written // self.state_every != before // self.state_every:
            self.write_state()
        return page.count


def state_snapshot(tap_state: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the tap's state taken in one call that keeps the GIL.

    Streams run on several threads and each changes its own part of the state while
    another writes a STATE. The SDK copies the state with ``copy.deepcopy``, which can
    meet a dict that another thread is growing; this copy is consistent.
    """
    return json_decoder.decode(msgspec.json.encode(tap_state))
