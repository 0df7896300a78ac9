"""A stream's pages as finished rows and RECORD lines, the same in the tap's own
process and in the worker processes that render pages for it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from tap_klaviyo.dates import parse_datetime
from tap_klaviyo.write.lines import ExtractionClock
from tap_klaviyo.write.render import RenderedPage
from tap_klaviyo.write.sink import render_rows
from tap_klaviyo.write.widen import Widening

Page = list[dict[str, Any]]


class PageRenderer:
    def __init__(
        self,
        stream: str,
        *,
        decode: Callable[[bytes, str, datetime | None, datetime | None], Page],
        check: Callable[[dict[str, Any], Any], dict[str, Any] | None],
        widenings: Callable[[], list[Widening]],
        bookmark_key: str | None,
        clock: ExtractionClock,
        # The key a time slice's cut applies to (read/slices.py).
        cut_key: str | None = None,
    ) -> None:
        self.stream = stream
        self.decode = decode
        self.check = check
        self.widenings = widenings
        self.bookmark_key = bookmark_key
        self.clock = clock
        self.cut_key = cut_key

    def finished_rows(self, page: Page, partition: Mapping[str, Any] | None) -> Page:
        """A page's records checked (the schema widening where they need it),
        canonicalised and given their partition's keys (as the SDK does)."""
        processed = (self.check(record, partition) for record in page)
        rows = [row for row in processed if row is not None]
        for row in rows:
            for key, value in (partition or {}).items():
                row.setdefault(key, value)
        return rows

    def render(self, rows: Page, version: int | None) -> RenderedPage:
        """RECORD lines, with the schema changes made while the rows were checked."""
        page = render_rows(
            self.stream,
            rows,
            version=version,
            key=self.bookmark_key,
            time_extracted=self.clock.now(),
        )
        page.widenings = self.widenings()
        return page

    def render_body(
        self,
        content: bytes,
        url: str,
        start: datetime | None,
        end: datetime | None,
        version: int | None,
        partition: Mapping[str, Any] | None,
        cut: datetime | None = None,
    ) -> RenderedPage:
        """A raw page's RECORD lines and bookmark rows, without records from ``cut`` on
        (they belong to the next slice); runs in a worker process."""
        records = self.decode(content, url, start, end)
        if cut is not None:
            # The slice reader checked these keys are date-times before handing the page on.
            key = self.cut_key
            records = [r for r in records if parse_datetime(r[key]) < cut]
        return self.render(self.finished_rows(records, partition), version)
