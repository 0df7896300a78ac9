"""Plan time windows whose size follows the density of the data.

A window should hold a handful of pages: big enough that its requests are not
wasted on empty ranges, small enough that a dense day is split across workers.
The planner learns records-per-second from every finished window and sizes the
next one for ``target_records``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

MIN_WINDOW = timedelta(minutes=1)
MAX_WINDOW = timedelta(days=180)
INITIAL_WINDOW = timedelta(days=1)


def whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


class WindowPlanner:
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
        self._density = density  # records per second, learned as windows finish
        self._lock = threading.Lock()

    def has_more(self) -> bool:
        return self.cursor < self.end

    def next_window(self) -> tuple[datetime, datetime]:
        with self._lock:
            density = self._density
        size = timedelta(seconds=self.target_records / density) if density else INITIAL_WINDOW
        size = min(max(size, MIN_WINDOW), MAX_WINDOW)
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
                # An empty window says little; let the next one grow.
                self._density = (self._density or 0) / 4 or None
            elif self._density is None:
                self._density = observed
            else:
                # Lean on the newest observation: density drifts over an account's life.
                self._density = 0.3 * self._density + 0.7 * observed
