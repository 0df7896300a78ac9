"""Pages read ahead of the writer: in memory up to a budget, on disk beyond it.

Records come out in key order, so while the writer waits on one slow piece (a bulk
import's second, read one page after another through its cursor) the workers read the
pieces after it and their pages wait. Kept in memory, those pages bound how far ahead
the workers may go; past a budget of bytes their bodies go to a temporary file of their
piece instead (unlinked from the start, so nothing is left behind by a killed run), and
the read-ahead costs disk, not memory. The reader uses a page's ``content`` and ``url``
only, which a page on disk has too.
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from concurrent.futures import Future
from typing import IO, Any

from tap_klaviyo.read.renders import PageRenders, RenderingPage

# Bytes of page bodies held in memory across one read's pieces; more go to disk.
MEMORY_BUDGET = 96 * 1024 * 1024


class SpilledPage:
    """A response whose body waits in its piece's file until the reader takes it (no
    slots: helpers may note what they parsed on a response, as on any other)."""

    def __init__(self, url: str, file: IO[bytes], offset: int, length: int) -> None:
        self.url = url
        self._file = file
        self._offset = offset
        self._length = length

    @property
    def content(self) -> bytes:
        return os.pread(self._file.fileno(), self._length, self._offset)


class PageFile:
    """One piece's pages on disk, appended by the piece's one task at a time. The reader
    closes it, possibly while that task still runs (a run that stops): the lock keeps a
    write from reaching a descriptor number the process has given to another file since."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._end = 0
        self._closed = False
        self._lock = threading.Lock()

    def add(self, url: str, content: bytes) -> SpilledPage:
        with self._lock:
            if self._closed:
                # Only a task whose piece nobody reads any more gets here; its feed is
                # cancelled, so this ends the task and goes no further.
                raise OSError("the piece's pages were let go")
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="tap-klaviyo-")  # noqa: SIM115 (closed with its piece)
            offset = self._end
            written = 0
            while written < len(content):
                written += os.pwrite(self._file.fileno(), content[written:], offset + written)
            self._end += len(content)
            return SpilledPage(url, self._file, offset, len(content))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()
                self._file = None


class Holding:
    """The bytes of page bodies a read holds in memory, and where the rest go."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.held = 0
        self.spilled = 0  # pages sent to disk so far (tests look)
        self._lock = threading.Lock()

    def keep(self, response: Any, file: PageFile) -> Any:
        """The response itself while the budget allows, else its body on disk."""
        content = response.content
        with self._lock:
            if self.held + len(content) <= self.budget:
                self.held += len(content)
                return response
            self.spilled += 1
        return file.add(response.url, content)

    def render(self, renders: PageRenders, response: Any, *args: Any) -> RenderingPage:
        """A page held in memory sent to be rendered ahead (``args``: its query's bounds
        and cut), its body let go: from when its render is back, it counts at that size."""
        page = RenderingPage(renders.ahead(response, *args), len(response.content))
        # A weak reference: the future keeps its callbacks, and a page it kept alive in
        # turn would wait for the cyclic collector with its render (measured: 120 MB
        # more at the peak of 1,000,000 events).
        held = weakref.ref(page)

        def rendered(done: Future[Any]) -> None:
            page = held()
            if page is not None and not done.cancelled() and done.exception() is None:
                self._resize(page, renders.size(done.result()))

        page.future.add_done_callback(rendered)
        return page

    def _resize(self, page: RenderingPage, size: int) -> None:
        with self._lock:
            if page.held:
                self.held += size - page.size
                page.size = size

    def release(self, page: Any) -> None:
        """The reader has taken ``page``: its bytes no longer count."""
        if isinstance(page, SpilledPage):
            return
        with self._lock:
            if isinstance(page, RenderingPage):
                page.held = False
                self.held -= page.size
            else:
                self.held -= len(page.content)
