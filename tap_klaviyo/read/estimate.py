"""How many records a range holds, from a few sample pages, for the time a read has left.

Klaviyo gives no counts, and an account's records are nothing like evenly spread over
time: early years are sparse, recent months dense, a bulk import puts thousands in one
second. A read's share of its time range says little about its share of the work. So
the range [start, end) is cut at ``SAMPLES`` instants, and for each the first page of
records from that instant on is read (one request each, on the stream's own quota):

* a page that is not full holds every record from its instant to the end: an exact
  count for every stretch after it, which then needs no request;
* a full page reaching past the next instant counts that stretch exactly;
* a full page ending before it gives the density there (its records over the time they
  span from the instant), scaled to the stretch.

The estimate is rough where density changes inside a stretch, and that is enough: the
progress line's time left is off by the error of this count, not by the account's
growth over years.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

# Instants sampled over a range (a request each).
SAMPLES = 16

# A sample: the keys of the first page of records at or after an instant (sorted) and
# whether more pages follow.
FirstPage = Callable[[datetime | None], tuple[list[datetime], bool]]


@dataclass(frozen=True)
class Estimate:
    """Records expected between consecutive ``edges``."""

    edges: list[datetime]
    counts: list[float]

    @property
    def total(self) -> float:
        return sum(self.counts)

    def after(self, moment: datetime) -> float:
        """Records expected after ``moment`` (a stretch it falls in counts in part)."""
        left = 0.0
        for (low, high), count in zip(pairwise(self.edges), self.counts, strict=False):
            if moment <= low:
                left += count
            elif moment < high:
                left += count * (high - moment) / (high - low)
        return left


def density(keys: list[datetime], low: datetime) -> float | None:
    """Records a second just after ``low``, from a full first page; None for a page
    whose records all share one second (a bulk import: no time passes in it)."""
    reached = (keys[-1] - low).total_seconds() if keys else 0.0
    return len(keys) / reached if reached > 0 else None


def stretch_count(
    keys: list[datetime], more: bool, low: datetime, high: datetime, after: float | None = None
) -> float:
    """Records in [low, high), from the first page of records at or after ``low``; a
    stretch the page does not cover takes the mean of its density and ``after``, the
    density where the next stretch begins (density mostly rises or falls across one)."""
    inside = bisect_left(keys, high)
    if inside < len(keys) or not more:
        return float(inside)  # the page reaches ``high``, or holds everything after low
    here = density(keys, low)
    if here is None:  # all we know is that it holds a page or more
        return float(len(keys))
    mean = (here + after) / 2 if after is not None else here
    return max(float(len(keys)), mean * (high - low).total_seconds())


def estimate(first_page: FirstPage, start: datetime | None, end: datetime) -> Estimate | None:
    """Records in [start, end) by sampling; with no start, the range begins at the first
    record. None when there is nothing to count."""
    if start is None:
        keys, _ = first_page(None)
        if not keys:
            return None
        start = keys[0]
    if start >= end:
        return None
    step = (end - start) / SAMPLES
    edges = [start + step * i for i in range(SAMPLES)] + [end]
    pages: list[tuple[list[datetime], bool]] = []
    for low in edges[:-1]:
        pages.append(first_page(low))
        if not pages[-1][1]:  # every record from here on: later stretches need no request
            break
    counts: list[float] = []
    for i, (keys, more) in enumerate(pages):
        if not more:
            bounds = [bisect_left(keys, edge) for edge in edges[i:]]
            counts += [float(b - a) for a, b in pairwise(bounds)]
            break
        after = density(pages[i + 1][0], edges[i + 1]) if i + 1 < len(pages) else None
        counts.append(stretch_count(keys, more, edges[i], edges[i + 1], after))
    return Estimate(edges, counts)
