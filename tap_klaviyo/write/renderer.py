"""A stream's pages as finished rows and RECORD lines, the same in the tap's own
process and in the worker processes that render pages for it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

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
    ) -> None:
        self.stream = stream
        self.decode = decode
        self.check = check
        self.widenings = widenings
        self.bookmark_key = bookmark_key
        self.clock = clock

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
    ) -> RenderedPage:
        """A raw page's RECORD lines and bookmark rows; runs in a worker process."""
        rows = self.finished_rows(self.decode(content, url, start, end), partition)
        return self.render(rows, version)
