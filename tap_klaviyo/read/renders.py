"""Pages rendered into RECORD lines elsewhere (the tap's worker processes,
write/render.py) while the reader holds them: the interface the slice reader uses, and
a held page that has gone to be rendered."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime
from typing import Any, Protocol


class PageRenders(Protocol):
    """Pages rendered elsewhere (write/render.py's ``Renders``): ``now`` for the
    ``depth`` pages after the one being written, ``ahead`` for pages fetched further
    ahead (rendered when a process is idle), ``needed`` when one of those comes within
    ``depth``, ``drop`` for those not started when the read is over."""

    depth: int

    def now(
        self, response: Any, start: datetime | None, end: datetime, cut: datetime | None = None
    ) -> Future[Any]: ...

    def ahead(
        self, response: Any, start: datetime | None, end: datetime, cut: datetime | None = None
    ) -> Future[Any]: ...

    def needed(self, future: Future[Any]) -> None: ...

    def drop(self) -> None: ...

    def size(self, rendered: Any) -> int:
        """Bytes a rendered page holds."""
        ...


class RenderingPage:
    """A page held as its render under way (or done) instead of its body: counted at its
    body's size until the render comes back, then at the render's (RECORD lines take
    about 60% of an events page's body, so more pages fit the budget rendered)."""

    __slots__ = ("__weakref__", "future", "held", "size")

    def __init__(self, future: Any, size: int) -> None:
        self.future = future
        self.size = size
        self.held = True  # until the reader takes it
