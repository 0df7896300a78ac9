"""The run's cost plan, logged before the first request: for each selected stream its
endpoint's quota and the requests known before reading, the least time those need, and
the stream that bounds the run.

What can be known up front differs by stream, and each says it in one ``Cost``: a report
stream knows its requests exactly (a day range each, within its daily budget); a child
reads once per parent record, and its state says how many parents the last run had; a
stream such as events needs a request per page of records nobody has counted yet (its
progress lines count them once it starts, read/estimate.py). The least time of N
requests at Q a minute is what the tap's limiter allows: the first minute's worth at
once, a minute for each further Q.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tap_klaviyo.dates import duration
from tap_klaviyo.errors import KlaviyoError
from tap_klaviyo.transport.ratelimit import quota_of, window_seconds


def estimate_seconds(requests_count: int, steady_per_minute: int | None) -> float:
    """Time to send ``requests_count`` requests at ``steady_per_minute`` (the first
    minute's worth leaves at once)."""
    if requests_count <= 0 or not steady_per_minute:
        return 0.0
    # The tap's limiter treats each minute as a little longer (ratelimit.py).
    return (math.ceil(requests_count / max(1, steady_per_minute)) - 1) * window_seconds(60)


def parallel_seconds(durations: list[float], workers: int) -> float:
    """Wall time of independent jobs on ``workers`` threads, longest first."""
    loads = [0.0] * max(1, workers)
    for seconds in sorted(durations, reverse=True):
        smallest = heapq.heappop(loads)
        heapq.heappush(loads, smallest + seconds)
    return max(loads)


@dataclass(frozen=True)
class Cost:
    """What one stream will ask of Klaviyo in this run, as far as is known before reading."""

    stream: str
    # e.g. "GET /api/events"; empty for a stream that sends no request of its own.
    endpoint: str = ""
    per_minute: int | None = None
    per_second: int | None = None
    # Requests known to be needed (at least this many).
    requests: int = 0
    # A request (or more) per record of this parent stream, and how many the last run read.
    per_parent: str | None = None
    parents_last_run: int | None = None
    # The whole line after the stream's name, where the stream knows better (reports).
    told: str | None = None

    @property
    def known_requests(self) -> int:
        return self.requests if self.per_parent is None else (self.parents_last_run or 0)

    def least_seconds(self) -> float:
        return estimate_seconds(self.known_requests, self.per_minute)

    def describe(self) -> str:
        if self.told is not None:
            return f"{self.stream}: {self.told}"
        if not self.endpoint:
            return f"{self.stream}: no requests (read off its parent's records)"
        quota = f"{self.per_minute:,}/min" if self.per_minute else "no stated quota"
        if self.per_second:
            quota += f", {self.per_second:,}/s"
        text = f"{self.stream}: {self.endpoint} ({quota}): "
        if self.per_parent is not None:
            text += f"a request or more per record of {self.per_parent}"
            if self.parents_last_run:
                text += f" ({self.parents_last_run:,} last run)"
            elif self.per_minute and self.per_minute < 60:
                each = 60 / self.per_minute
                text += f", {each:.0f} s each once the first {self.per_minute} are sent"
        else:
            text += f"{self.requests} request(s) or more, a page each"
        least = self.least_seconds()
        if least:
            text += f", at least {duration(least)}"
        return text


def cost_of(stream: Any) -> Cost:
    """A stream's cost: its own (``planned_cost``) where it knows better, else read off
    its endpoint's quota, its partitions and its state."""
    own = getattr(stream, "planned_cost", None)
    if own is not None:
        return own()
    operation = getattr(stream, "operation", None)
    if operation is None:
        return Cost(stream.name)
    burst, steady = quota_of(stream.settings, operation, stream.static_params())
    parent = stream.parent_stream_type
    partitions = stream.stream_state.get("partitions") or [] if parent else []
    return Cost(
        stream.name,
        endpoint=f"{operation.method} {operation.path}",
        per_minute=steady,
        per_second=burst,
        requests=0 if parent else len(stream.partitions or [None]),
        per_parent=parent.name if parent else None,
        parents_last_run=len(partitions) or None,
    )


def log_plan(logger: logging.Logger, streams: Iterable[Any], workers: int) -> list[Cost]:
    """One line per selected stream, then what bounds the run."""
    costs = []
    for stream in streams:
        try:
            costs.append(cost_of(stream))
        except KlaviyoError as exc:  # the stream meets it again when it runs, and says so
            costs.append(Cost(stream.name, told=f"not known before reading: {exc}"))
    for cost in costs:
        logger.info("Plan: %s", cost.describe())
    if not costs:
        return costs
    bound = max(costs, key=lambda c: c.least_seconds())
    wall = parallel_seconds([c.least_seconds() for c in costs], workers)
    text = (
        f"Plan: {len(costs)} stream(s), {sum(c.known_requests for c in costs):,} request(s) "
        f"known before reading, {workers} stream(s) at a time"
    )
    if bound.least_seconds() > 0:
        text += f": at least {duration(wall)}, bound by {bound.stream}"
    else:
        text += ": none needs more than a minute of its quota before its records are counted"
    logger.info("%s", text)
    return costs
