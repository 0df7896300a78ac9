"""Runs you can watch: a progress line per running stream at most every
`progress_seconds`, and one summary line per stream when the run ends.

A first backfill runs for hours; the SDK's own metrics say how many records a
context gave once it is done, which for events is the end of the run. Here each
stream keeps a few counts (records written, parent records fetched, contexts done,
the first and last replication key written) and its HTTP client counts requests
and 429s. A watcher thread reads them, without locks (a count read a moment late
is harmless), and says how far each stream got and how long it should take yet.

How far: a stream read in key order is as far through its range as its last key
(the range starts at the run's start for the stream, or at the first key it
wrote when it reads all history). A child is as far as the share of its parents'
records it has finished. How long: the time so far, scaled by what is left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from singer_sdk import metrics

from tap_klaviyo.dates import duration, parse_datetime
from tap_klaviyo.read.estimate import Estimate

# The pace a stream's time left is reckoned at: its records a second over this long,
# a whole window of Klaviyo's steady quota.
RATE_WINDOW = 60.0


class StreamProgress:
    """One stream's counts in this run, kept by the stream's own threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started: float | None = None
        self.finished: float | None = None
        self.records = 0
        # Records of this stream's pages fetched so far, and whether the last page of
        # every context was: the parents a child has to go through.
        self.fetched = 0
        self.fetched_all = False
        self.contexts_done = 0
        self.first_key: str | None = None
        self.last_key: str | None = None
        # The range of the replication key the run reads, for streams read in key order.
        self.range: tuple[datetime | None, datetime] | None = None
        # Records expected in the range (read/estimate.py), once sampled.
        self.estimate: Estimate | None = None
        self._samples: deque[tuple[float, int]] = deque()

    def begin(self) -> None:
        if self.started is None:
            self.started = self.clock()
            self._samples.append((self.started, 0))

    def recent_rate(self) -> float:
        """Records a second over the last ``RATE_WINDOW`` seconds: the pace now."""
        now, records = self.clock(), self.records
        self._samples.append((now, records))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW:
            self._samples.popleft()
        then, before = self._samples[0]
        return (records - before) / (now - then) if now > then else 0.0

    def end(self) -> None:
        if self.started is not None and self.finished is None:
            self.finished = self.clock()

    def key_written(self, value: Any) -> None:
        if isinstance(value, str):
            if self.first_key is None:
                self.first_key = value
            self.last_key = value

    @property
    def running(self) -> bool:
        return self.started is not None and self.finished is None

    def seconds(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished if self.finished is not None else self.clock()) - self.started


class CountingCounter(metrics.Counter):
    """The SDK's record counter (its METRIC lines unchanged), also counting into the
    stream's progress."""

    def __init__(self, progress: StreamProgress, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress

    def increment(self, value: int = 1) -> None:
        super().increment(value)
        self.progress.records += value


@dataclass(frozen=True)
class Reading:
    """What one stream's progress shows at one moment."""

    stream: str
    records: int
    seconds: float
    requests: int
    throttled: int
    # How much is done (0..1) and of what, when known.
    fraction: float | None = None
    of_what: str = ""
    bookmark: str | None = None
    # Records a second lately, and records expected yet (when the range was sampled).
    rate: float = 0.0
    remaining: float | None = None
    # The least time the quota allows for the rest, for a read the quota holds back.
    quota_left: float | None = None

    def eta_seconds(self) -> float | None:
        """The time left: what the quota allows for the rest, or the records expected
        yet at the pace of late, or else the time so far scaled by the share left."""
        if self.quota_left is not None:
            return self.quota_left
        if self.remaining is not None and self.rate > 0:
            return self.remaining / self.rate
        if self.fraction is None or self.fraction <= 0 or self.seconds <= 0:
            return None
        return self.seconds * (1 - self.fraction) / self.fraction

    def progress_line(self) -> str:
        text = (
            f"Progress: {self.stream}: {self.records:,} records ({self.rate:,.0f}/s) in "
            f"{duration(self.seconds)}, {self.requests:,} requests"
        )
        if self.fraction is not None:
            text += f", {self.fraction:.0%} of {self.of_what}"
        if self.remaining is not None:
            text += f" (about {self.records + self.remaining:,.0f} records)"
        eta = self.eta_seconds()
        if eta is not None:
            text += f", about {duration(eta, fine=True)} left"
        return text

    def summary_line(self) -> str:
        return (
            f"Summary: {self.stream}: {self.records:,} records, {self.requests:,} requests, "
            f"{self.throttled} throttled (429), {self.seconds:.1f} s, bookmark "
            f"{self.bookmark or 'none'}"
        )


def time_fraction(
    start: datetime | None, end: datetime, first_key: str | None, last_key: str | None
) -> float | None:
    """How far through [start, end) a read in key order is once it wrote ``last_key``;
    with no start (all history), the range begins at the first key written."""
    if last_key is None:
        return None
    try:
        low = start or parse_datetime(first_key or last_key)
        reached = parse_datetime(last_key)
    except ValueError:
        return None
    span = (end - low).total_seconds()
    if span <= 0:
        return None
    return min(1.0, max(0.0, (reached - low).total_seconds() / span))


class ProgressLog:
    """Logs each running stream's reading every ``every`` seconds (none if 0), on a
    daemon thread, until ``close``; ``summary`` gives the end-of-run lines. A stream
    younger than ``every`` stays quiet, so streams that finish in seconds do."""

    def __init__(
        self,
        streams: Iterable[Any],
        logger: logging.Logger,
        every: float,
    ) -> None:
        self.streams = list(streams)
        self.logger = logger
        self.every = every
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def __enter__(self) -> ProgressLog:
        if self.every > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._closed.wait(self.every):
            for stream in self.streams:
                progress = stream.progress
                if progress.running and progress.seconds() >= self.every:
                    self.logger.info("%s", stream.progress_reading().progress_line())

    def summary(self) -> list[str]:
        """One line per stream the run synced, in the order they began."""
        ran = [s for s in self.streams if s.progress.started is not None]
        ran.sort(key=lambda s: s.progress.started)
        return [stream.progress_reading().summary_line() for stream in ran]
